-- Reference engine: the five strict table definitions (README "Policies") as one DuckDB script.
-- Reads the same NDJSON landing files as `stedi run` and writes Parquet. {landing}, {out} and {salt}
-- are filled in by benchmarks/reference.py. subject_id is sha256(salt || key): the same kind of work
-- as the pipeline's HMAC-SHA256, which DuckDB has no built-in for.

-- Landing tables hold each exact record once (the pipeline removes exact duplicates): DISTINCT.
CREATE TEMP TABLE customer_landing AS
SELECT DISTINCT * FROM read_json('{landing}/customer/landing/*.json', format = 'newline_delimited',
  columns = {{customerName: 'VARCHAR', email: 'VARCHAR', phone: 'VARCHAR', birthDay: 'VARCHAR',
             serialNumber: 'VARCHAR', registrationDate: 'BIGINT', lastUpdateDate: 'BIGINT',
             shareWithResearchAsOfDate: 'BIGINT', shareWithPublicAsOfDate: 'BIGINT',
             shareWithFriendsAsOfDate: 'BIGINT'}});

-- The newest record per normalised email; ties go to the revocation.
CREATE TEMP TABLE latest AS
SELECT * EXCLUDE (rn) FROM (
  SELECT *, lower(trim(email)) AS _key,
         row_number() OVER (PARTITION BY lower(trim(email)) ORDER BY
           lastUpdateDate DESC NULLS LAST, (shareWithResearchAsOfDate IS NULL) DESC,
           shareWithResearchAsOfDate DESC NULLS LAST, registrationDate DESC NULLS LAST,
           serialNumber DESC NULLS LAST, customerName DESC NULLS LAST, phone DESC NULLS LAST,
           birthDay DESC NULLS LAST) AS rn
  FROM customer_landing WHERE email IS NOT NULL)
WHERE rn = 1;

CREATE TEMP TABLE customer_trusted AS
SELECT * FROM latest WHERE shareWithResearchAsOfDate IS NOT NULL;

CREATE TEMP TABLE accelerometer_trusted AS
SELECT a."user", a."timestamp", a.x, a.y, a.z, c._key
FROM (SELECT DISTINCT * FROM read_json('{landing}/accelerometer/landing/*.json', format = 'newline_delimited',
  columns = {{"user": 'VARCHAR', "timestamp": 'BIGINT', x: 'DOUBLE', y: 'DOUBLE', z: 'DOUBLE'}})) a
JOIN customer_trusted c ON lower(trim(a."user")) = c._key
WHERE a."timestamp" >= c.shareWithResearchAsOfDate;

CREATE TEMP TABLE customer_curated AS
SELECT c.* FROM customer_trusted c
WHERE c._key IN (SELECT DISTINCT _key FROM accelerometer_trusted);

-- Devices owned by exactly one customer among the latest records.
CREATE TEMP TABLE owners AS
SELECT serialNumber, min(_key) AS _key FROM latest WHERE serialNumber IS NOT NULL
GROUP BY serialNumber HAVING count(DISTINCT _key) = 1;

CREATE TEMP TABLE step_trainer_trusted AS
SELECT s.sensorReadingTime, s.serialNumber, s.distanceFromObject, o._key
FROM (SELECT DISTINCT * FROM read_json('{landing}/step_trainer/landing/*.json', format = 'newline_delimited',
  columns = {{sensorReadingTime: 'BIGINT', serialNumber: 'VARCHAR', distanceFromObject: 'BIGINT'}})) s
JOIN owners o USING (serialNumber)
JOIN customer_curated c ON c._key = o._key
WHERE s.sensorReadingTime >= c.shareWithResearchAsOfDate;

COPY (SELECT * EXCLUDE (_key) FROM customer_trusted) TO '{out}/customer_trusted.parquet' (FORMAT parquet);
COPY (SELECT * EXCLUDE (_key) FROM accelerometer_trusted) TO '{out}/accelerometer_trusted.parquet' (FORMAT parquet);
COPY (SELECT * EXCLUDE (_key) FROM customer_curated) TO '{out}/customer_curated.parquet' (FORMAT parquet);
COPY (SELECT * EXCLUDE (_key) FROM step_trainer_trusted) TO '{out}/step_trainer_trusted.parquet' (FORMAT parquet);
COPY (
  SELECT sha256('{salt}' || s._key) AS subject_id, s.sensorReadingTime, s.distanceFromObject, a.x, a.y, a.z
  FROM step_trainer_trusted s
  JOIN accelerometer_trusted a ON a._key = s._key AND a."timestamp" = s.sensorReadingTime
) TO '{out}/machine_learning_curated.parquet' (FORMAT parquet);
