//! GTPv2-C message types (TS 29.274 table 6.1-1) and IE types (table 8.1-1) by name. Numbers not
//! named here are still carried: the types are open newtypes over the octet.

use std::fmt;

macro_rules! named_u8 {
    ($(#[$meta:meta])* $ty:ident { $($(#[$cmeta:meta])* $name:ident = $val:expr, $text:expr;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(pub u8);

        impl $ty {
            $($(#[$cmeta])* pub const $name: $ty = $ty($val);)*

            /// The specification's name, `None` for a number this crate does not name.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($text),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{n} ({})", self.0),
                    None => write!(f, "unknown ({})", self.0),
                }
            }
        }
    };
}

named_u8! {
    /// A GTPv2-C message type.
    MessageType {
        /// Echo Request.
        ECHO_REQUEST = 1, "Echo Request";
        /// Echo Response.
        ECHO_RESPONSE = 2, "Echo Response";
        /// Version Not Supported Indication.
        VERSION_NOT_SUPPORTED = 3, "Version Not Supported Indication";
        /// Create Session Request.
        CREATE_SESSION_REQUEST = 32, "Create Session Request";
        /// Create Session Response.
        CREATE_SESSION_RESPONSE = 33, "Create Session Response";
        /// Modify Bearer Request.
        MODIFY_BEARER_REQUEST = 34, "Modify Bearer Request";
        /// Modify Bearer Response.
        MODIFY_BEARER_RESPONSE = 35, "Modify Bearer Response";
        /// Delete Session Request.
        DELETE_SESSION_REQUEST = 36, "Delete Session Request";
        /// Delete Session Response.
        DELETE_SESSION_RESPONSE = 37, "Delete Session Response";
        /// Change Notification Request.
        CHANGE_NOTIFICATION_REQUEST = 38, "Change Notification Request";
        /// Change Notification Response.
        CHANGE_NOTIFICATION_RESPONSE = 39, "Change Notification Response";
        /// Modify Bearer Command.
        MODIFY_BEARER_COMMAND = 64, "Modify Bearer Command";
        /// Modify Bearer Failure Indication.
        MODIFY_BEARER_FAILURE_INDICATION = 65, "Modify Bearer Failure Indication";
        /// Delete Bearer Command.
        DELETE_BEARER_COMMAND = 66, "Delete Bearer Command";
        /// Delete Bearer Failure Indication.
        DELETE_BEARER_FAILURE_INDICATION = 67, "Delete Bearer Failure Indication";
        /// Bearer Resource Command.
        BEARER_RESOURCE_COMMAND = 68, "Bearer Resource Command";
        /// Bearer Resource Failure Indication.
        BEARER_RESOURCE_FAILURE_INDICATION = 69, "Bearer Resource Failure Indication";
        /// Downlink Data Notification Failure Indication.
        DOWNLINK_DATA_NOTIFICATION_FAILURE_INDICATION = 70, "Downlink Data Notification Failure Indication";
        /// Create Bearer Request.
        CREATE_BEARER_REQUEST = 95, "Create Bearer Request";
        /// Create Bearer Response.
        CREATE_BEARER_RESPONSE = 96, "Create Bearer Response";
        /// Update Bearer Request.
        UPDATE_BEARER_REQUEST = 97, "Update Bearer Request";
        /// Update Bearer Response.
        UPDATE_BEARER_RESPONSE = 98, "Update Bearer Response";
        /// Delete Bearer Request.
        DELETE_BEARER_REQUEST = 99, "Delete Bearer Request";
        /// Delete Bearer Response.
        DELETE_BEARER_RESPONSE = 100, "Delete Bearer Response";
        /// Delete PDN Connection Set Request.
        DELETE_PDN_CONNECTION_SET_REQUEST = 101, "Delete PDN Connection Set Request";
        /// Delete PDN Connection Set Response.
        DELETE_PDN_CONNECTION_SET_RESPONSE = 102, "Delete PDN Connection Set Response";
        /// Context Request.
        CONTEXT_REQUEST = 130, "Context Request";
        /// Context Response.
        CONTEXT_RESPONSE = 131, "Context Response";
        /// Context Acknowledge.
        CONTEXT_ACKNOWLEDGE = 132, "Context Acknowledge";
        /// Suspend Notification.
        SUSPEND_NOTIFICATION = 162, "Suspend Notification";
        /// Suspend Acknowledge.
        SUSPEND_ACKNOWLEDGE = 163, "Suspend Acknowledge";
        /// Resume Notification.
        RESUME_NOTIFICATION = 164, "Resume Notification";
        /// Resume Acknowledge.
        RESUME_ACKNOWLEDGE = 165, "Resume Acknowledge";
        /// Release Access Bearers Request.
        RELEASE_ACCESS_BEARERS_REQUEST = 170, "Release Access Bearers Request";
        /// Release Access Bearers Response.
        RELEASE_ACCESS_BEARERS_RESPONSE = 171, "Release Access Bearers Response";
        /// Downlink Data Notification.
        DOWNLINK_DATA_NOTIFICATION = 176, "Downlink Data Notification";
        /// Downlink Data Notification Acknowledge.
        DOWNLINK_DATA_NOTIFICATION_ACK = 177, "Downlink Data Notification Acknowledge";
        /// PGW Restart Notification.
        PGW_RESTART_NOTIFICATION = 179, "PGW Restart Notification";
        /// PGW Restart Notification Acknowledge.
        PGW_RESTART_NOTIFICATION_ACK = 180, "PGW Restart Notification Acknowledge";
        /// Update PDN Connection Set Request.
        UPDATE_PDN_CONNECTION_SET_REQUEST = 200, "Update PDN Connection Set Request";
        /// Update PDN Connection Set Response.
        UPDATE_PDN_CONNECTION_SET_RESPONSE = 201, "Update PDN Connection Set Response";
        /// Modify Access Bearers Request.
        MODIFY_ACCESS_BEARERS_REQUEST = 211, "Modify Access Bearers Request";
        /// Modify Access Bearers Response.
        MODIFY_ACCESS_BEARERS_RESPONSE = 212, "Modify Access Bearers Response";
    }
}

impl MessageType {
    /// Whether this is a response or acknowledgement that answers a request (TS 29.274 §7.6 triggered
    /// messages among the types named here).
    pub fn is_response(self) -> bool {
        matches!(
            self.0,
            2 | 33 | 35 | 37 | 39 | 96 | 98 | 100 | 102 | 131 | 132 | 163 | 165 | 171 | 177 | 180 | 201 | 212
        )
    }
}

named_u8! {
    /// A GTPv2-C IE type.
    IeType {
        /// IMSI (§8.3).
        IMSI = 1, "IMSI";
        /// Cause (§8.4).
        CAUSE = 2, "Cause";
        /// Recovery (Restart Counter) (§8.5).
        RECOVERY = 3, "Recovery";
        /// Access Point Name (§8.6).
        APN = 71, "APN";
        /// Aggregate Maximum Bit Rate (§8.7).
        AMBR = 72, "AMBR";
        /// EPS Bearer ID (§8.8).
        EBI = 73, "EBI";
        /// IP Address (§8.9).
        IP_ADDRESS = 74, "IP Address";
        /// Mobile Equipment Identity (§8.10).
        MEI = 75, "MEI";
        /// MSISDN (§8.11).
        MSISDN = 76, "MSISDN";
        /// Indication (§8.12).
        INDICATION = 77, "Indication";
        /// Protocol Configuration Options (§8.13).
        PCO = 78, "PCO";
        /// PDN Address Allocation (§8.14).
        PAA = 79, "PAA";
        /// Bearer Level QoS (§8.15).
        BEARER_QOS = 80, "Bearer QoS";
        /// Flow QoS (§8.16).
        FLOW_QOS = 81, "Flow QoS";
        /// RAT Type (§8.17).
        RAT_TYPE = 82, "RAT Type";
        /// Serving Network (§8.18).
        SERVING_NETWORK = 83, "Serving Network";
        /// EPS Bearer Level Traffic Flow Template (§8.19).
        BEARER_TFT = 84, "Bearer TFT";
        /// Traffic Aggregation Description (§8.20).
        TAD = 85, "TAD";
        /// User Location Information (§8.21).
        ULI = 86, "ULI";
        /// Fully Qualified TEID (§8.22).
        FTEID = 87, "F-TEID";
        /// TMSI (§8.23).
        TMSI = 88, "TMSI";
        /// Global CN-Id (§8.24).
        GLOBAL_CN_ID = 89, "Global CN-Id";
        /// Delay Value (§8.27).
        DELAY_VALUE = 92, "Delay Value";
        /// Bearer Context, grouped (§8.28).
        BEARER_CONTEXT = 93, "Bearer Context";
        /// Charging ID (§8.29).
        CHARGING_ID = 94, "Charging ID";
        /// Charging Characteristics (§8.30).
        CHARGING_CHARACTERISTICS = 95, "Charging Characteristics";
        /// Trace Information (§8.31).
        TRACE_INFORMATION = 96, "Trace Information";
        /// Bearer Flags (§8.32).
        BEARER_FLAGS = 97, "Bearer Flags";
        /// PDN Type (§8.34).
        PDN_TYPE = 99, "PDN Type";
        /// Procedure Transaction ID (§8.35).
        PTI = 100, "PTI";
        /// PDN Connection, grouped (§8.39).
        PDN_CONNECTION = 109, "PDN Connection";
        /// UE Time Zone (§8.44).
        UE_TIME_ZONE = 114, "UE Time Zone";
        /// F-Cause (§8.49).
        F_CAUSE = 119, "F-Cause";
        /// PLMN ID (§8.50).
        PLMN_ID = 120, "PLMN ID";
        /// Port Number (§8.52).
        PORT_NUMBER = 126, "Port Number";
        /// APN Restriction (§8.57).
        APN_RESTRICTION = 127, "APN Restriction";
        /// Selection Mode (§8.58).
        SELECTION_MODE = 128, "Selection Mode";
        /// FQ-CSID (§8.62).
        FQ_CSID = 132, "FQ-CSID";
        /// Node Type (§8.65).
        NODE_TYPE = 135, "Node Type";
        /// Fully Qualified Domain Name (§8.66).
        FQDN = 136, "FQDN";
        /// User CSG Information (§8.75).
        UCI = 145, "UCI";
        /// Node Features (§8.83).
        NODE_FEATURES = 152, "Node Features";
        /// Throttling (§8.85).
        THROTTLING = 154, "Throttling";
        /// Allocation/Retention Priority (§8.86).
        ARP = 155, "ARP";
        /// EPC Timer (§8.87).
        EPC_TIMER = 156, "EPC Timer";
        /// Signalling Priority Indication (§8.88).
        SIGNALLING_PRIORITY_INDICATION = 157, "Signalling Priority Indication";
        /// Max MBR/APN-AMBR (§8.92).
        MMBR = 161, "MMBR";
        /// Additional Protocol Configuration Options (§8.94).
        APCO = 163, "APCO";
        /// ULI Timestamp (§8.101).
        ULI_TIMESTAMP = 170, "ULI Timestamp";
        /// RAN/NAS Cause (§8.103).
        RAN_NAS_CAUSE = 172, "RAN/NAS Cause";
        /// Overload Control Information, grouped (§8.111).
        OVERLOAD_CONTROL_INFORMATION = 180, "Overload Control Information";
        /// Load Control Information, grouped (§8.112).
        LOAD_CONTROL_INFORMATION = 181, "Load Control Information";
        /// Metric (§8.113).
        METRIC = 182, "Metric";
        /// Sequence Number (§8.114).
        SEQUENCE_NUMBER = 183, "Sequence Number";
        /// APN and Relative Capacity (§8.115).
        APN_AND_RELATIVE_CAPACITY = 184, "APN and Relative Capacity";
        /// Remote UE Context, grouped (§8.123).
        REMOTE_UE_CONTEXT = 191, "Remote UE Context";
        /// SCEF PDN Connection, grouped (§8.127).
        SCEF_PDN_CONNECTION = 195, "SCEF PDN Connection";
        /// Extended Protocol Configuration Options (§8.128).
        EPCO = 197, "Extended PCO";
        /// UP Function Selection Indication Flags (§8.136).
        UP_FUNCTION_SELECTION_INDICATION_FLAGS = 202, "UP Function Selection Indication Flags";
        /// Private Extension (§8.67).
        PRIVATE_EXTENSION = 255, "Private Extension";
    }
}

impl IeType {
    /// Whether the IE is grouped (its value is a list of IEs), per TS 29.274 table 8.1-1. Only these are
    /// decoded recursively; every other IE's value is kept as bytes.
    pub fn is_grouped(self) -> bool {
        matches!(self.0, 93 | 109 | 180 | 181 | 191 | 195)
    }
}
