"""Helpers shared by the SMS integrations (Eskiz, GetSMS)."""

from integrations.sms.segments import count_segments, segment_info
from integrations.sms.status import apply_report, get_status, record_pending

__all__ = ["apply_report", "count_segments", "get_status", "record_pending", "segment_info"]
