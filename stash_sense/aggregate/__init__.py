from .segments import TagResult, TimeRule, aggregate_tag, find_segments, rule_from_settings

__all__ = ["TagResult", "TimeRule", "aggregate_tag", "find_segments", "rule_from_settings"]
