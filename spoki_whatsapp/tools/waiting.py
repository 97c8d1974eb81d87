"""How long a customer has been waiting for a reply, in words short enough for a list column."""

DEFAULT_UNITS = {"day": "d", "hour": "h", "minute": "min", "less": "< 1 min"}


def format_waiting(seconds, units=None):
    """``seconds`` as the two largest units: '2 d 4 h', '3 h 12 min',
    '12 min', '< 1 min' (``units`` gives the translated labels)."""
    units = {**DEFAULT_UNITS, **(units or {})}
    seconds = max(int(seconds or 0), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} {units['day']} {hours} {units['hour']}" if hours else f"{days} {units['day']}"
    if hours:
        return f"{hours} {units['hour']} {minutes} {units['minute']}" if minutes else f"{hours} {units['hour']}"
    if minutes:
        return f"{minutes} {units['minute']}"
    return units["less"]
