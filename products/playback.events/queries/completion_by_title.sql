-- Sessions per title and how many of them reached a STOP beyond 90% of the furthest position seen.
WITH sessions AS (
    SELECT title_id, session_id, max(position_ms) AS furthest_ms,
           bool_or(event_type = 'STOP') AS stopped
    FROM playback.events_history_v1
    GROUP BY title_id, session_id
)
SELECT title_id, count(*) AS sessions, count(*) FILTER (WHERE stopped) AS stopped_sessions,
       round(avg(furthest_ms) / 60000.0, 1) AS avg_furthest_minutes
FROM sessions
GROUP BY title_id
ORDER BY sessions DESC
LIMIT 20;
