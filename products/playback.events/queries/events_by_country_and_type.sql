-- Where viewers watch from and what their players do: events and distinct viewers per country and event type, busiest first.
SELECT country,
       event_type,
       count(*)                    AS events,
       count(DISTINCT customer_id) AS viewers
FROM playback.events_history_v1
GROUP BY country, event_type
ORDER BY events DESC, country, event_type
LIMIT 50;
