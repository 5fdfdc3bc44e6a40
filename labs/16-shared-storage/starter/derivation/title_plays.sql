-- Each title with its plays. The catalogue comes through the input port `titles`; the plays are read
-- straight from playback.events' history table in the lakehouse: it is right there, and it works.
SELECT t.title_id, t.name, count(h.event_id) AS plays
FROM titles t
LEFT JOIN playback.events_history_v1 h ON h.title_id = t.title_id AND h.event_type = 'PLAY'
GROUP BY ALL
