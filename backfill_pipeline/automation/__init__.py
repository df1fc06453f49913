"""Automation: per-market jobs, the daily schedules, the gap-fill, universe and weekly
sensors, fetch retries, and the backfill status they leave behind (see README "Automation")."""
