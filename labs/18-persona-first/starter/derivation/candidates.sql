-- The logic comes last: first the objective, the personas, the type, the descriptor and the contract.
-- A placeholder with the contract's columns, which returns no row until the query is written.
SELECT CAST(NULL AS BIGINT) AS customer_id, CAST(NULL AS VARCHAR) AS email,
       CAST(NULL AS DOUBLE) AS watch_hours_30d, CAST(NULL AS VARCHAR) AS offer
WHERE false
