-- Each title with its plays: the catalogue through the input port `titles`, the plays through the
-- input port `plays` (playback.events' history port, declared in dataproduct.yaml).
SELECT t.title_id, t.name, count(p.event_id) AS plays
FROM titles t
LEFT JOIN plays p ON p.title_id = t.title_id AND p.event_type = 'PLAY'
GROUP BY ALL
