//! SMPP 3.4 `command_status` values (SMPP v3.4 §5.1.3) with their spec names.

use std::fmt;

/// A `command_status` value; any 32-bit value is kept, the ones SMPP 3.4 defines have names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $value:expr, $text:expr;)*) => {
        impl CommandStatus {
            $(
                #[doc = $text]
                pub const $name: CommandStatus = CommandStatus($value);
            )*

            /// The spec's name (`ESME_RTHROTTLED`), when SMPP 3.4 defines this value.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The spec's description ("Throttling error"), when SMPP 3.4 defines this value.
            pub fn description(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    ESME_ROK = 0x00, "No error";
    ESME_RINVMSGLEN = 0x01, "Message length is invalid";
    ESME_RINVCMDLEN = 0x02, "Command length is invalid";
    ESME_RINVCMDID = 0x03, "Invalid command id";
    ESME_RINVBNDSTS = 0x04, "Incorrect bind status for given command";
    ESME_RALYBND = 0x05, "ESME already in bound state";
    ESME_RINVPRTFLG = 0x06, "Invalid priority flag";
    ESME_RINVREGDLVFLG = 0x07, "Invalid registered delivery flag";
    ESME_RSYSERR = 0x08, "System error";
    ESME_RINVSRCADR = 0x0A, "Invalid source address";
    ESME_RINVDSTADR = 0x0B, "Invalid destination address";
    ESME_RINVMSGID = 0x0C, "Message id is invalid";
    ESME_RBINDFAIL = 0x0D, "Bind failed";
    ESME_RINVPASWD = 0x0E, "Invalid password";
    ESME_RINVSYSID = 0x0F, "Invalid system id";
    ESME_RCANCELFAIL = 0x11, "Cancel SM failed";
    ESME_RREPLACEFAIL = 0x13, "Replace SM failed";
    ESME_RMSGQFUL = 0x14, "Message queue full";
    ESME_RINVSERTYP = 0x15, "Invalid service type";
    ESME_RINVNUMDESTS = 0x33, "Invalid number of destinations";
    ESME_RINVDLNAME = 0x34, "Invalid distribution list name";
    ESME_RINVDESTFLAG = 0x40, "Destination flag is invalid";
    ESME_RINVSUBREP = 0x42, "Invalid submit with replace request";
    ESME_RINVESMCLASS = 0x43, "Invalid esm_class field data";
    ESME_RCNTSUBDL = 0x44, "Cannot submit to distribution list";
    ESME_RSUBMITFAIL = 0x45, "submit_sm or submit_multi failed";
    ESME_RINVSRCTON = 0x48, "Invalid source address TON";
    ESME_RINVSRCNPI = 0x49, "Invalid source address NPI";
    ESME_RINVDSTTON = 0x50, "Invalid destination address TON";
    ESME_RINVDSTNPI = 0x51, "Invalid destination address NPI";
    ESME_RINVSYSTYP = 0x53, "Invalid system_type field";
    ESME_RINVREPFLAG = 0x54, "Invalid replace_if_present flag";
    ESME_RINVNUMMSGS = 0x55, "Invalid number of messages";
    ESME_RTHROTTLED = 0x58, "Throttling error (ESME has exceeded allowed message limits)";
    ESME_RINVSCHED = 0x61, "Invalid scheduled delivery time";
    ESME_RINVEXPIRY = 0x62, "Invalid message validity period (expiry time)";
    ESME_RINVDFTMSGID = 0x63, "Predefined message invalid or not found";
    ESME_RX_T_APPN = 0x64, "ESME receiver temporary app error code";
    ESME_RX_P_APPN = 0x65, "ESME receiver permanent app error code";
    ESME_RX_R_APPN = 0x66, "ESME receiver reject message error code";
    ESME_RQUERYFAIL = 0x67, "query_sm request failed";
    ESME_RINVOPTPARSTREAM = 0xC0, "Error in the optional part of the PDU body";
    ESME_ROPTPARNOTALLWD = 0xC1, "Optional parameter not allowed";
    ESME_RINVPARLEN = 0xC2, "Invalid parameter length";
    ESME_RMISSINGOPTPARAM = 0xC3, "Expected optional parameter missing";
    ESME_RINVOPTPARAMVAL = 0xC4, "Invalid optional parameter value";
    ESME_RDELIVERYFAILURE = 0xFE, "Delivery failure (used for data_sm_resp)";
    ESME_RUNKNOWNERR = 0xFF, "Unknown error";
}

impl CommandStatus {
    /// Whether this is `ESME_ROK`.
    pub fn is_ok(self) -> bool {
        self == Self::ESME_ROK
    }

    /// Whether the SMSC asks the ESME to slow down (`ESME_RTHROTTLED`, `ESME_RMSGQFUL`): the same
    /// request may succeed later.
    pub fn is_throttling(self) -> bool {
        self == Self::ESME_RTHROTTLED || self == Self::ESME_RMSGQFUL
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:08X})", self.0),
            None => write!(f, "0x{:08X}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(CommandStatus(0x0E).name(), Some("ESME_RINVPASWD"));
        assert_eq!(CommandStatus(0x58).to_string(), "ESME_RTHROTTLED (0x00000058)");
        assert_eq!(CommandStatus(0x0400).to_string(), "0x00000400");
        assert!(CommandStatus::ESME_RMSGQFUL.is_throttling());
        assert!(!CommandStatus::ESME_RBINDFAIL.is_throttling());
    }
}
