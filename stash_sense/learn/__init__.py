"""Phase two and three on the user's machine: judge the zero-shot tags against the user's own
tagging (evaluate) and learn the user's tags from stored CLIP vectors (learn). numpy to predict;
scikit-learn only inside the learn task."""
