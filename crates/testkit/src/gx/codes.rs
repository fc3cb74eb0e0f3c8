//! The numbers of Gx, transcribed from the specifications (not taken from the dictionary, so that
//! the test P-GW checks the PCRF independently): the application, commands, AVP codes and the
//! enumerated values the P-GW sends or reads.

/// 3GPP's vendor id (IANA SMI Network Management Private Enterprise Code 10415).
pub const VENDOR_3GPP: u32 = 10415;
/// The Gx application id (TS 29.212 §5.1; IANA).
pub const GX_APPLICATION_ID: u32 = 16_777_238;

/// Command codes: Credit-Control (RFC 4006 §12.1; Gx CCR/CCA, TS 29.212 §5.6.2/5.6.3).
pub const CREDIT_CONTROL: u32 = 272;
/// Re-Auth (RFC 6733 §8.3; Gx RAR/RAA, TS 29.212 §5.6.4/5.6.5).
pub const RE_AUTH: u32 = 258;
/// Abort-Session (RFC 6733 §8.5). Not a Gx command in TS 29.212 §5.6 (the PCRF releases an IP-CAN
/// session with RAR and Session-Release-Cause); handled because some PCRFs still send it.
pub const ABORT_SESSION: u32 = 274;

/// Base and credit-control AVPs (vendor 0): RFC 6733 §4.5, RFC 4006 §8, RFC 7155, RFC 3162.
pub mod base {
    /// Framed-IP-Address (RFC 7155 §4.4.10.5.1), OctetString of 4 bytes.
    pub const FRAMED_IP_ADDRESS: u32 = 8;
    /// Called-Station-Id (RFC 7155 §4.2.5): the APN on Gx.
    pub const CALLED_STATION_ID: u32 = 30;
    /// Framed-IPv6-Prefix (RFC 7155 §4.4.10.6.1, RFC 3162 §2.3).
    pub const FRAMED_IPV6_PREFIX: u32 = 97;
    /// Session-Id.
    pub const SESSION_ID: u32 = 263;
    /// Origin-Host.
    pub const ORIGIN_HOST: u32 = 264;
    /// Vendor-Id.
    pub const VENDOR_ID: u32 = 266;
    /// Result-Code.
    pub const RESULT_CODE: u32 = 268;
    /// Auth-Application-Id.
    pub const AUTH_APPLICATION_ID: u32 = 258;
    /// Origin-State-Id.
    pub const ORIGIN_STATE_ID: u32 = 278;
    /// Failed-AVP.
    pub const FAILED_AVP: u32 = 279;
    /// Destination-Realm.
    pub const DESTINATION_REALM: u32 = 283;
    /// Origin-Realm.
    pub const ORIGIN_REALM: u32 = 296;
    /// Experimental-Result.
    pub const EXPERIMENTAL_RESULT: u32 = 297;
    /// Experimental-Result-Code.
    pub const EXPERIMENTAL_RESULT_CODE: u32 = 298;
    /// Termination-Cause (RFC 6733 §8.15).
    pub const TERMINATION_CAUSE: u32 = 295;
    /// CC-Input-Octets (RFC 4006 §8.24).
    pub const CC_INPUT_OCTETS: u32 = 412;
    /// CC-Output-Octets (RFC 4006 §8.25).
    pub const CC_OUTPUT_OCTETS: u32 = 414;
    /// CC-Request-Number (RFC 4006 §8.2).
    pub const CC_REQUEST_NUMBER: u32 = 415;
    /// CC-Request-Type (RFC 4006 §8.3).
    pub const CC_REQUEST_TYPE: u32 = 416;
    /// CC-Total-Octets (RFC 4006 §8.23).
    pub const CC_TOTAL_OCTETS: u32 = 421;
    /// Granted-Service-Unit (RFC 4006 §8.17).
    pub const GRANTED_SERVICE_UNIT: u32 = 431;
    /// Rating-Group (RFC 4006 §8.29).
    pub const RATING_GROUP: u32 = 432;
    /// Service-Identifier (RFC 4006 §8.28).
    pub const SERVICE_IDENTIFIER: u32 = 439;
    /// Subscription-Id (RFC 4006 §8.46).
    pub const SUBSCRIPTION_ID: u32 = 443;
    /// Subscription-Id-Data (RFC 4006 §8.48).
    pub const SUBSCRIPTION_ID_DATA: u32 = 444;
    /// Used-Service-Unit (RFC 4006 §8.19).
    pub const USED_SERVICE_UNIT: u32 = 446;
    /// Subscription-Id-Type (RFC 4006 §8.47).
    pub const SUBSCRIPTION_ID_TYPE: u32 = 450;
}

/// 3GPP AVPs (vendor 10415): TS 29.212 table 5.3.1, TS 29.214 §5.3, TS 29.229 §6.3, TS 29.061.
pub mod tgpp {
    /// 3GPP-SGSN-MCC-MNC (TS 29.061 §16.4.7), UTF8String "MCCMNC".
    pub const SGSN_MCC_MNC: u32 = 18;
    /// Flow-Description (TS 29.214 §5.3.8), IPFilterRule.
    pub const FLOW_DESCRIPTION: u32 = 507;
    /// Flow-Status (TS 29.214 §5.3.11), Enumerated.
    pub const FLOW_STATUS: u32 = 511;
    /// Max-Requested-Bandwidth-DL (TS 29.214 §5.3.14).
    pub const MAX_REQUESTED_BANDWIDTH_DL: u32 = 515;
    /// Max-Requested-Bandwidth-UL (TS 29.214 §5.3.15).
    pub const MAX_REQUESTED_BANDWIDTH_UL: u32 = 516;
    /// Supported-Features (TS 29.229 §6.3.29).
    pub const SUPPORTED_FEATURES: u32 = 628;
    /// Feature-List-ID (TS 29.229 §6.3.30).
    pub const FEATURE_LIST_ID: u32 = 629;
    /// Feature-List (TS 29.229 §6.3.31).
    pub const FEATURE_LIST: u32 = 630;
    /// Charging-Rule-Install (TS 29.212 §5.3.2).
    pub const CHARGING_RULE_INSTALL: u32 = 1001;
    /// Charging-Rule-Remove (§5.3.3).
    pub const CHARGING_RULE_REMOVE: u32 = 1002;
    /// Charging-Rule-Definition (§5.3.4).
    pub const CHARGING_RULE_DEFINITION: u32 = 1003;
    /// Charging-Rule-Base-Name (§5.3.5).
    pub const CHARGING_RULE_BASE_NAME: u32 = 1004;
    /// Charging-Rule-Name (§5.3.6), OctetString.
    pub const CHARGING_RULE_NAME: u32 = 1005;
    /// Event-Trigger (§5.3.7).
    pub const EVENT_TRIGGER: u32 = 1006;
    /// Metering-Method (§5.3.8).
    pub const METERING_METHOD: u32 = 1007;
    /// Offline (§5.3.9).
    pub const OFFLINE: u32 = 1008;
    /// Online (§5.3.10).
    pub const ONLINE: u32 = 1009;
    /// Precedence (§5.3.11): lower values are evaluated first.
    pub const PRECEDENCE: u32 = 1010;
    /// Reporting-Level (§5.3.12).
    pub const REPORTING_LEVEL: u32 = 1011;
    /// QoS-Information (§5.3.16).
    pub const QOS_INFORMATION: u32 = 1016;
    /// Charging-Rule-Report (§5.3.18).
    pub const CHARGING_RULE_REPORT: u32 = 1018;
    /// PCC-Rule-Status (§5.3.19).
    pub const PCC_RULE_STATUS: u32 = 1019;
    /// Guaranteed-Bitrate-DL (§5.3.25).
    pub const GUARANTEED_BITRATE_DL: u32 = 1025;
    /// Guaranteed-Bitrate-UL (§5.3.26).
    pub const GUARANTEED_BITRATE_UL: u32 = 1026;
    /// IP-CAN-Type (§5.3.27).
    pub const IP_CAN_TYPE: u32 = 1027;
    /// QoS-Class-Identifier (§5.3.17).
    pub const QOS_CLASS_IDENTIFIER: u32 = 1028;
    /// Rule-Failure-Code (§5.3.38).
    pub const RULE_FAILURE_CODE: u32 = 1031;
    /// RAT-Type (§5.3.31).
    pub const RAT_TYPE: u32 = 1032;
    /// Allocation-Retention-Priority (§5.3.32).
    pub const ALLOCATION_RETENTION_PRIORITY: u32 = 1034;
    /// APN-Aggregate-Max-Bitrate-DL (§5.3.39).
    pub const APN_AGGREGATE_MAX_BITRATE_DL: u32 = 1040;
    /// APN-Aggregate-Max-Bitrate-UL (§5.3.40).
    pub const APN_AGGREGATE_MAX_BITRATE_UL: u32 = 1041;
    /// Session-Release-Cause (§5.3.44).
    pub const SESSION_RELEASE_CAUSE: u32 = 1045;
    /// Priority-Level (§5.3.45).
    pub const PRIORITY_LEVEL: u32 = 1046;
    /// Pre-emption-Capability (§5.3.46).
    pub const PRE_EMPTION_CAPABILITY: u32 = 1047;
    /// Pre-emption-Vulnerability (§5.3.47).
    pub const PRE_EMPTION_VULNERABILITY: u32 = 1048;
    /// Default-EPS-Bearer-QoS (§5.3.48).
    pub const DEFAULT_EPS_BEARER_QOS: u32 = 1049;
    /// Flow-Information (§5.3.53).
    pub const FLOW_INFORMATION: u32 = 1058;
    /// Monitoring-Key (§5.3.59), OctetString.
    pub const MONITORING_KEY: u32 = 1066;
    /// Usage-Monitoring-Information (§5.3.60).
    pub const USAGE_MONITORING_INFORMATION: u32 = 1067;
    /// Usage-Monitoring-Level (§5.3.61).
    pub const USAGE_MONITORING_LEVEL: u32 = 1068;
    /// Usage-Monitoring-Support (§5.3.63).
    pub const USAGE_MONITORING_SUPPORT: u32 = 1070;
    /// Flow-Direction (§5.3.65).
    pub const FLOW_DIRECTION: u32 = 1080;
}

/// CC-Request-Type values (RFC 4006 §8.3).
pub mod request_type {
    /// INITIAL_REQUEST.
    pub const INITIAL: u32 = 1;
    /// UPDATE_REQUEST.
    pub const UPDATE: u32 = 2;
    /// TERMINATION_REQUEST.
    pub const TERMINATION: u32 = 3;
}

/// Subscription-Id-Type values (RFC 4006 §8.47).
pub mod subscription_id_type {
    /// END_USER_E164 (the MSISDN).
    pub const E164: u32 = 0;
    /// END_USER_IMSI.
    pub const IMSI: u32 = 1;
}

/// IP-CAN-Type 3GPP-EPS (TS 29.212 §5.3.27).
pub const IP_CAN_3GPP_EPS: u32 = 5;
/// RAT-Type EUTRAN (TS 29.212 §5.3.31).
pub const RAT_EUTRAN: u32 = 1004;
/// Event-Trigger USAGE_REPORT (TS 29.212 §5.3.7).
pub const EVENT_USAGE_REPORT: u32 = 33;
/// Event-Trigger NO_EVENT_TRIGGERS: the PCRF withdraws every trigger (TS 29.212 §5.3.7).
pub const EVENT_NO_EVENT_TRIGGERS: u32 = 14;
/// Termination-Cause DIAMETER_LOGOUT (RFC 6733 §8.15).
pub const TERMINATION_LOGOUT: u32 = 1;
/// PCC-Rule-Status INACTIVE (TS 29.212 §5.3.19).
pub const PCC_RULE_INACTIVE: u32 = 1;
/// Usage-Monitoring-Support USAGE_MONITORING_DISABLED (TS 29.212 §5.3.63).
pub const USAGE_MONITORING_DISABLED: u32 = 0;

/// Rule-Failure-Code values (TS 29.212 §5.3.38) the P-GW reports.
pub mod rule_failure {
    /// UNKNOWN_RULE_NAME: a predefined rule or base name to remove is not installed.
    pub const UNKNOWN_RULE_NAME: u32 = 1;
    /// MISSING_FLOW_INFORMATION: a new dynamic rule without Flow-Information.
    pub const MISSING_FLOW_INFORMATION: u32 = 9;
    /// INCORRECT_FLOW_INFORMATION: a Flow-Description that is not a valid IPFilterRule.
    pub const INCORRECT_FLOW_INFORMATION: u32 = 12;
}

/// Result codes the tests look for.
pub mod result {
    /// DIAMETER_SUCCESS (RFC 6733 §7.1.2).
    pub const SUCCESS: u32 = 2001;
    /// DIAMETER_UNKNOWN_SESSION_ID (RFC 6733 §7.1.5).
    pub const UNKNOWN_SESSION_ID: u32 = 5002;
    /// DIAMETER_MISSING_AVP (RFC 6733 §7.1.5).
    pub const MISSING_AVP: u32 = 5005;
    /// DIAMETER_USER_UNKNOWN (RFC 4006 §9.1, reused by TS 29.212 §5.5.1): a Result-Code there.
    pub const USER_UNKNOWN: u32 = 5030;
}
