-- The osmo-hlr tables the audit importer reads, with five subscribers (algorithm ids per libosmocore
-- enum osmo_auth_algo: 1-3 COMP128v1-v3, 4 XOR-3G, 5 MILENAGE, 6 XOR-2G, 7 TUAK). Test keys only.
CREATE TABLE subscriber (
    id          INTEGER PRIMARY KEY,
    imei        VARCHAR(14),
    imsi        VARCHAR(15) UNIQUE NOT NULL,
    msisdn      VARCHAR(15) UNIQUE,
    vlr_number  VARCHAR(15),
    sgsn_number VARCHAR(15),
    nam_cs      BOOLEAN NOT NULL DEFAULT 1,
    nam_ps      BOOLEAN NOT NULL DEFAULT 1
);
CREATE TABLE auc_2g (
    subscriber_id INTEGER PRIMARY KEY,
    algo_id_2g    INTEGER NOT NULL,
    ki            VARCHAR NOT NULL
);
CREATE TABLE auc_3g (
    subscriber_id INTEGER PRIMARY KEY,
    algo_id_3g    INTEGER NOT NULL,
    k             VARCHAR NOT NULL,
    op            VARCHAR,
    opc           VARCHAR,
    sqn           INTEGER NOT NULL DEFAULT 0,
    ind_bitlen    INTEGER NOT NULL DEFAULT 5
);
INSERT INTO subscriber (id, imsi, msisdn) VALUES
    (1, '901700000000001', '1001'),
    (2, '901700000000002', '1002'),
    (3, '901700000000003', '1003'),
    (4, '901700000000004', '1004'),
    (5, '901700000000005', '1005');
-- 1: COMP128v1 for 2G beside MILENAGE with OPc.
INSERT INTO auc_2g VALUES (1, 1, '000102030405060708090a0b0c0d0e0f');
INSERT INTO auc_3g (subscriber_id, algo_id_3g, k, op, opc) VALUES
    (1, 5, '465b5ce8b199b49faa5f0a2ee238a6bc', NULL, 'cd63cb71954a9f4e48a5994e37a02baf');
-- 2: MILENAGE with the operator's OP stored instead of OPc.
INSERT INTO auc_3g (subscriber_id, algo_id_3g, k, op, opc) VALUES
    (2, 5, 'fec86ba6eb707ed08905757b1bb44b8f', 'dbc59adcb6f9a0ef735477b7fadf8374', NULL);
-- 3: 2G only, COMP128v3.
INSERT INTO auc_2g VALUES (3, 3, '101112131415161718191a1b1c1d1e1f');
-- 4: 2G only, XOR-2G with a 64-bit key.
INSERT INTO auc_2g VALUES (4, 6, '2021222324252627');
-- 5: MILENAGE with OPc only.
INSERT INTO auc_3g (subscriber_id, algo_id_3g, k, op, opc) VALUES
    (5, 5, '0396eb317b6d1c36f19c1c84cd6ffd16', NULL, '53c15671c60a4b731c55b4a441c0bde2');
