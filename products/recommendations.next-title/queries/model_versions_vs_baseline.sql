-- Every model trained, newest first: precision and recall at 10 on the time-based holdout against the
-- popularity baseline's, the lift, the quality gate's verdict, whether it went into service and
-- whether it serves now (the newest that went into service), and the input snapshots it learnt from.
SELECT version,
       trained_at,
       training_rows,
       test_customers,
       round(precision_at_10, 4)          AS precision_at_10,
       round(baseline_precision_at_10, 4) AS baseline_precision_at_10,
       round(lift, 2)                     AS lift,
       round(recall_at_10, 4)             AS recall_at_10,
       round(baseline_recall_at_10, 4)    AS baseline_recall_at_10,
       quality_gate_passed,
       quality_gate,
       in_service,
       coalesce(version = (SELECT max(version) FROM recommendations.next_title_models_v1 WHERE in_service), false)
                                          AS serving_now,
       sessions_snapshot,
       titles_snapshot,
       artifact
FROM recommendations.next_title_models_v1
ORDER BY version DESC;
