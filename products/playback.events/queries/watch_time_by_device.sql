-- Watch activity by device class: events, distinct viewers and sessions, for the last day of events.
SELECT device,
       count(*)                    AS events,
       count(DISTINCT customer_id) AS viewers,
       count(DISTINCT session_id)  AS sessions
FROM playback.events_history_v1
WHERE occurred_at >= now() - INTERVAL 1 DAY
GROUP BY device
ORDER BY events DESC;
