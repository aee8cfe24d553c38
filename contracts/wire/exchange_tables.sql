-- Exchange tables (前置库) of the provincial platform.
-- Generated from contracts.fields (contracts/wire/ddl.py); do not edit.
-- 受理信息: one row per accepted case (办件受理)
CREATE TABLE IF NOT EXISTS up_pro_accept (
    ex_id BIGSERIAL PRIMARY KEY,
    project_no VARCHAR(50) NOT NULL,
    task_code VARCHAR(64) NOT NULL,
    task_version VARCHAR(10) NOT NULL,
    task_name VARCHAR(200) NOT NULL,
    region_code VARCHAR(6) NOT NULL,
    org_code VARCHAR(18) NOT NULL,
    org_name VARCHAR(100) NOT NULL,
    applyer_type VARCHAR(1) NOT NULL,
    applyer_name VARCHAR(100) NOT NULL,
    applyer_id_type VARCHAR(3) NOT NULL,
    applyer_id VARCHAR(50) NOT NULL,
    apply_date VARCHAR(10) NOT NULL,
    accept_date VARCHAR(10) NOT NULL,
    promise_day INTEGER NOT NULL,
    anticipate_day INTEGER NOT NULL,
    promise_date VARCHAR(10) NOT NULL,
    handle_mode VARCHAR(1) NOT NULL,
    joint_no VARCHAR(50),
    theme_code VARCHAR(32),
    row_guid VARCHAR(64) NOT NULL,
    cd_batch VARCHAR(64) NOT NULL,
    cd_operation VARCHAR(1) NOT NULL,
    cd_time VARCHAR(32) NOT NULL,
    data_source VARCHAR(64) NOT NULL,
    CONSTRAINT uq_up_pro_accept_row_guid UNIQUE (row_guid)
);
-- 办理过程: one row per step of a case
CREATE TABLE IF NOT EXISTS up_pro_process (
    ex_id BIGSERIAL PRIMARY KEY,
    project_no VARCHAR(50) NOT NULL,
    node_name VARCHAR(2) NOT NULL,
    handler VARCHAR(50) NOT NULL,
    handle_date VARCHAR(32) NOT NULL,
    node_result VARCHAR(1) NOT NULL,
    opinion VARCHAR(500),
    row_guid VARCHAR(64) NOT NULL,
    cd_batch VARCHAR(64) NOT NULL,
    cd_operation VARCHAR(1) NOT NULL,
    cd_time VARCHAR(32) NOT NULL,
    data_source VARCHAR(64) NOT NULL,
    CONSTRAINT uq_up_pro_process_row_guid UNIQUE (row_guid)
);
-- 特别程序: one row per suspended period (hearing, public notice, expert review, site survey); extends the deadline by its working days (DOMAIN.md §6)
CREATE TABLE IF NOT EXISTS up_pro_special_procedure (
    ex_id BIGSERIAL PRIMARY KEY,
    project_no VARCHAR(50) NOT NULL,
    procedure_type VARCHAR(1) NOT NULL,
    start_date VARCHAR(10) NOT NULL,
    end_date VARCHAR(10) NOT NULL,
    row_guid VARCHAR(64) NOT NULL,
    cd_batch VARCHAR(64) NOT NULL,
    cd_operation VARCHAR(1) NOT NULL,
    cd_time VARCHAR(32) NOT NULL,
    data_source VARCHAR(64) NOT NULL,
    CONSTRAINT uq_up_pro_special_procedure_row_guid UNIQUE (row_guid)
);
-- 办结信息: one row per finished case
CREATE TABLE IF NOT EXISTS up_pro_result (
    ex_id BIGSERIAL PRIMARY KEY,
    project_no VARCHAR(50) NOT NULL,
    result_date VARCHAR(10) NOT NULL,
    result_type VARCHAR(1) NOT NULL,
    result_cert_name VARCHAR(100),
    result_cert_no VARCHAR(100),
    row_guid VARCHAR(64) NOT NULL,
    cd_batch VARCHAR(64) NOT NULL,
    cd_operation VARCHAR(1) NOT NULL,
    cd_time VARCHAR(32) NOT NULL,
    data_source VARCHAR(64) NOT NULL,
    CONSTRAINT uq_up_pro_result_row_guid UNIQUE (row_guid)
);
-- 申请材料: one row per submitted document; a 容缺 material is supplied by a later U row (its own row_guid) of the same project_no and material_name with material_state 3; an e-license reference (material_state 4) is checked at intake (README, 容缺受理 and 免提交)
CREATE TABLE IF NOT EXISTS up_pro_material (
    ex_id BIGSERIAL PRIMARY KEY,
    project_no VARCHAR(50) NOT NULL,
    material_name VARCHAR(200) NOT NULL,
    material_type VARCHAR(1) NOT NULL,
    material_state VARCHAR(1),
    supply_by VARCHAR(10),
    supplied_date VARCHAR(10),
    license_ref VARCHAR(100),
    row_guid VARCHAR(64) NOT NULL,
    cd_batch VARCHAR(64) NOT NULL,
    cd_operation VARCHAR(1) NOT NULL,
    cd_time VARCHAR(32) NOT NULL,
    data_source VARCHAR(64) NOT NULL,
    CONSTRAINT uq_up_pro_material_row_guid UNIQUE (row_guid)
);
-- 好差评: one row per 好差评 rating (GB/T 39735)
CREATE TABLE IF NOT EXISTS up_pro_evaluation (
    ex_id BIGSERIAL PRIMARY KEY,
    project_no VARCHAR(50) NOT NULL,
    eval_level INTEGER NOT NULL,
    eval_date VARCHAR(10) NOT NULL,
    channel VARCHAR(1) NOT NULL,
    row_guid VARCHAR(64) NOT NULL,
    cd_batch VARCHAR(64) NOT NULL,
    cd_operation VARCHAR(1) NOT NULL,
    cd_time VARCHAR(32) NOT NULL,
    data_source VARCHAR(64) NOT NULL,
    CONSTRAINT uq_up_pro_evaluation_row_guid UNIQUE (row_guid)
);
