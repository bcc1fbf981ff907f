"""Model management: device choice, where weights live, and how to get them offline."""
