-- STEDI lakehouse: Athena DDL (Delta Lake tables; Athena syncs their columns to the Glue catalog).

CREATE DATABASE IF NOT EXISTS `stedi`;

-- ingest_log (landing zone): 10 columns, as Glue lists them
--   feed               string
--   path               string
--   size               bigint
--   mtime_ns           bigint
--   content_hash       string
--   rows_accepted      bigint
--   rows_quarantined   bigint
--   rows_deduplicated  bigint
--   run_id             string
--   ingested_at        timestamp
CREATE EXTERNAL TABLE `stedi`.`ingest_log`
LOCATION 's3://stedi-lake/prod/landing/ingest_log'
TBLPROPERTIES ('table_type' = 'DELTA');

-- customer_landing (landing zone): 14 columns, as Glue lists them
--   customerName               string
--   email                      string
--   phone                      string
--   birthDay                   string
--   serialNumber               string
--   registrationDate           bigint
--   lastUpdateDate             bigint
--   shareWithResearchAsOfDate  bigint
--   shareWithPublicAsOfDate    bigint
--   shareWithFriendsAsOfDate   bigint
--   _extra                     string
--   _record_id                 binary
--   _source_file               string
--   _ingested_at               timestamp
CREATE EXTERNAL TABLE `stedi`.`customer_landing`
LOCATION 's3://stedi-lake/prod/landing/customer_landing'
TBLPROPERTIES ('table_type' = 'DELTA');

-- accelerometer_landing (landing zone): 10 columns, as Glue lists them
--   user          string
--   timestamp     bigint
--   x             double
--   y             double
--   z             double
--   _extra        string
--   _record_id    binary
--   _source_file  string
--   _ingested_at  timestamp
--   _day          date
CREATE EXTERNAL TABLE `stedi`.`accelerometer_landing`
LOCATION 's3://stedi-lake/prod/landing/accelerometer_landing'
TBLPROPERTIES ('table_type' = 'DELTA');

-- step_trainer_landing (landing zone): 8 columns, as Glue lists them
--   sensorReadingTime   bigint
--   serialNumber        string
--   distanceFromObject  bigint
--   _extra              string
--   _record_id          binary
--   _source_file        string
--   _ingested_at        timestamp
--   _day                date
CREATE EXTERNAL TABLE `stedi`.`step_trainer_landing`
LOCATION 's3://stedi-lake/prod/landing/step_trainer_landing'
TBLPROPERTIES ('table_type' = 'DELTA');

-- quarantine (landing zone): 7 columns, as Glue lists them
--   feed          string
--   source_file   string
--   line_number   bigint
--   reason_code   string
--   reason        string
--   raw_line      string
--   _ingested_at  timestamp
CREATE EXTERNAL TABLE `stedi`.`quarantine`
LOCATION 's3://stedi-lake/prod/landing/quarantine'
TBLPROPERTIES ('table_type' = 'DELTA');

-- customer_trusted (trusted zone): 10 columns, as Glue lists them
--   customerName               string
--   email                      string
--   phone                      string
--   birthDay                   string
--   serialNumber               string
--   registrationDate           bigint
--   lastUpdateDate             bigint
--   shareWithResearchAsOfDate  bigint
--   shareWithPublicAsOfDate    bigint
--   shareWithFriendsAsOfDate   bigint
CREATE EXTERNAL TABLE `stedi`.`customer_trusted`
LOCATION 's3://stedi-lake/prod/trusted/customer_trusted'
TBLPROPERTIES ('table_type' = 'DELTA');

-- accelerometer_trusted (trusted zone): 5 columns, as Glue lists them
--   user       string
--   timestamp  bigint
--   x          double
--   y          double
--   z          double
CREATE EXTERNAL TABLE `stedi`.`accelerometer_trusted`
LOCATION 's3://stedi-lake/prod/trusted/accelerometer_trusted'
TBLPROPERTIES ('table_type' = 'DELTA');

-- customer_curated (curated zone): 10 columns, as Glue lists them
--   customerName               string
--   email                      string
--   phone                      string
--   birthDay                   string
--   serialNumber               string
--   registrationDate           bigint
--   lastUpdateDate             bigint
--   shareWithResearchAsOfDate  bigint
--   shareWithPublicAsOfDate    bigint
--   shareWithFriendsAsOfDate   bigint
CREATE EXTERNAL TABLE `stedi`.`customer_curated`
LOCATION 's3://stedi-lake/prod/curated/customer_curated'
TBLPROPERTIES ('table_type' = 'DELTA');

-- step_trainer_trusted (trusted zone): 3 columns, as Glue lists them
--   sensorReadingTime   bigint
--   serialNumber        string
--   distanceFromObject  bigint
CREATE EXTERNAL TABLE `stedi`.`step_trainer_trusted`
LOCATION 's3://stedi-lake/prod/trusted/step_trainer_trusted'
TBLPROPERTIES ('table_type' = 'DELTA');

-- machine_learning_curated (curated zone): 6 columns, as Glue lists them
--   subject_id          string
--   sensorReadingTime   bigint
--   distanceFromObject  bigint
--   x                   double
--   y                   double
--   z                   double
CREATE EXTERNAL TABLE `stedi`.`machine_learning_curated`
LOCATION 's3://stedi-lake/prod/curated/machine_learning_curated'
TBLPROPERTIES ('table_type' = 'DELTA');
