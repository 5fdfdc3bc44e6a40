"""content-insights.kpis: the domain logic, as the SQL an analyst would write. Each refresh recomputes
every KPI from the engagement, content and subscriptions products' ports (a few thousand rows a day),
so a KPI never drifts from its inputs."""

from __future__ import annotations

from mesh_sdk import Context, Inputs, Update

AT_RISK_AFTER_DAYS = 7  # an active subscriber who watched nothing for this long is a churn risk

TITLE_DAILY = """
SELECT e.day, e.title_id, t.name AS title_name, t.primary_genre,
       count(DISTINCT e.customer_id) AS viewers,
       sum(e.sessions) AS sessions,
       sum(e.completed_sessions) AS completed_sessions,
       sum(e.completed_sessions) / sum(e.sessions) AS completion_rate,
       sum(e.watch_seconds) / 3600 AS watch_hours
FROM engagement e LEFT JOIN titles t USING (title_id)
GROUP BY ALL
"""

GENRE_DAILY = """
SELECT e.day, coalesce(t.primary_genre, 'unknown') AS genre,
       count(DISTINCT e.title_id) AS titles_watched,
       count(DISTINCT e.customer_id) AS viewers,
       sum(e.sessions) AS sessions,
       sum(e.completed_sessions) / sum(e.sessions) AS completion_rate,
       sum(e.watch_seconds) / 3600 AS watch_hours
FROM engagement e LEFT JOIN titles t USING (title_id)
GROUP BY ALL
"""

# A subscriber is active on a day when the subscription had started by its end and was not cancelled
# before it began; the churn signal counts those who watched nothing in the week up to that day.
DAILY = f"""
WITH days AS (SELECT DISTINCT day FROM engagement),
active AS (
    SELECT d.day, s.customer_id
    FROM days d JOIN subscriptions s
      ON s.started_at < d.day + INTERVAL 1 DAY
     AND (s.cancelled_at IS NULL OR s.cancelled_at >= d.day)
),
watched AS (
    SELECT day, count(DISTINCT customer_id) AS viewers, sum(sessions) AS sessions,
           sum(completed_sessions) AS completed, sum(watch_seconds) AS seconds
    FROM engagement GROUP BY day
),
silent AS (
    SELECT a.day, count(*) AS at_risk
    FROM active a
    WHERE NOT EXISTS (
        SELECT 1 FROM engagement e
        WHERE e.customer_id = a.customer_id
          AND e.day BETWEEN a.day - INTERVAL {AT_RISK_AFTER_DAYS - 1} DAY AND a.day
    )
    GROUP BY a.day
),
cancelled AS (
    SELECT CAST(cancelled_at AS DATE) AS day, count(*) AS cancellations
    FROM subscriptions WHERE cancelled_at IS NOT NULL GROUP BY 1
)
SELECT d.day,
       (SELECT count(*) FROM active a WHERE a.day = d.day) AS active_subscribers,
       w.viewers, w.sessions,
       w.completed / w.sessions AS completion_rate,
       w.seconds / 3600 AS watch_hours,
       coalesce(c.cancellations, 0) AS cancellations,
       coalesce(s.at_risk, 0) AS at_risk_subscribers
FROM days d
JOIN watched w USING (day)
LEFT JOIN cancelled c USING (day)
LEFT JOIN silent s USING (day)
"""


class Derivation:
    def __init__(self, context: Context) -> None:
        self.context = context

    def refresh(self, inputs: Inputs) -> dict[str, Update]:
        return {
            "daily": Update.replace(inputs.sql(DAILY)),
            "title_daily": Update.replace(inputs.sql(TITLE_DAILY)),
            "genre_daily": Update.replace(inputs.sql(GENRE_DAILY)),
        }
