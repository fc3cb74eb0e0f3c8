//! Result-Code values used by Warden (RFC 6733 §7.1, TS 29.272 §7.4 experimental results).

/// Request performed successfully.
pub const SUCCESS: u32 = 2001;
/// The command code is not supported.
pub const COMMAND_UNSUPPORTED: u32 = 3001;
/// The message could not be delivered.
pub const UNABLE_TO_DELIVER: u32 = 3002;
/// The realm is not served.
pub const REALM_NOT_SERVED: u32 = 3003;
/// Too busy: the peer should try another (also used by overload control).
pub const TOO_BUSY: u32 = 3004;
/// A loop was detected.
pub const LOOP_DETECTED: u32 = 3005;
/// The application is not supported.
pub const APPLICATION_UNSUPPORTED: u32 = 3007;
/// Header bits are invalid or inconsistent with the command.
pub const INVALID_HDR_BITS: u32 = 3008;
/// AVP flag bits are invalid or inconsistent with the AVP's definition.
pub const INVALID_AVP_BITS: u32 = 3009;
/// CER from a peer that is not configured.
pub const UNKNOWN_PEER: u32 = 3010;
/// Authentication rejected.
pub const AUTHENTICATION_REJECTED: u32 = 4001;
/// An AVP marked mandatory is not recognised.
pub const AVP_UNSUPPORTED: u32 = 5001;
/// Unknown session.
pub const UNKNOWN_SESSION_ID: u32 = 5002;
/// Authorisation rejected.
pub const AUTHORIZATION_REJECTED: u32 = 5003;
/// An AVP value is invalid.
pub const INVALID_AVP_VALUE: u32 = 5004;
/// A required AVP is missing.
pub const MISSING_AVP: u32 = 5005;
/// Resources exceeded.
pub const RESOURCES_EXCEEDED: u32 = 5006;
/// AVPs that contradict each other.
pub const CONTRADICTING_AVPS: u32 = 5007;
/// An AVP that must not be present is.
pub const AVP_NOT_ALLOWED: u32 = 5008;
/// An AVP appears more often than allowed.
pub const AVP_OCCURS_TOO_MANY_TIMES: u32 = 5009;
/// No application in common at capabilities exchange.
pub const NO_COMMON_APPLICATION: u32 = 5010;
/// Unsupported protocol version.
pub const UNSUPPORTED_VERSION: u32 = 5011;
/// Unable to comply.
pub const UNABLE_TO_COMPLY: u32 = 5012;
/// Invalid bit in the header.
pub const INVALID_BIT_IN_HEADER: u32 = 5013;
/// An AVP has an invalid length.
pub const INVALID_AVP_LENGTH: u32 = 5014;
/// The message length is invalid.
pub const INVALID_MESSAGE_LENGTH: u32 = 5015;

/// S6a experimental result: unknown subscriber (TS 29.272 §7.4.3).
pub const EXP_USER_UNKNOWN: u32 = 5001;
/// S6a: roaming not allowed.
pub const EXP_ROAMING_NOT_ALLOWED: u32 = 5004;
/// S6a: unknown EPS subscription.
pub const EXP_UNKNOWN_EPS_SUBSCRIPTION: u32 = 5420;
/// S6a: RAT not allowed.
pub const EXP_RAT_NOT_ALLOWED: u32 = 5421;
/// S6a: authentication data unavailable (transient).
pub const EXP_AUTHENTICATION_DATA_UNAVAILABLE: u32 = 4181;
/// S13: unknown equipment.
pub const EXP_EQUIPMENT_UNKNOWN: u32 = 5422;
/// SGd (TS 29.338 §6.3.4.2): the subscriber is not reachable (detached, no paging response); the
/// answer may carry Absent-User-Diagnostic-SM.
pub const EXP_ABSENT_USER: u32 = 5550;
/// SGd: the subscriber is busy for MT SMS.
pub const EXP_USER_BUSY_FOR_MT_SMS: u32 = 5551;
/// SGd: a requested facility is not supported (the MAP error of that name). 5552 as TS 29.338
/// §6.3.4.4 and Wireshark's dictionary number it (5554 is ILLEGAL_EQUIPMENT).
pub const EXP_FACILITY_NOT_SUPPORTED: u32 = 5552;
/// SGd: the subscriber failed authentication.
pub const EXP_ILLEGAL_USER: u32 = 5553;
/// SGd: the equipment is not allowed.
pub const EXP_ILLEGAL_EQUIPMENT: u32 = 5554;
/// SGd: the short message could not be delivered; SM-Delivery-Failure-Cause says why.
pub const EXP_SM_DELIVERY_FAILURE: u32 = 5555;
/// SGd: the subscriber has no subscription to the service.
pub const EXP_SERVICE_NOT_SUBSCRIBED: u32 = 5556;
/// SGd: the service is barred for the subscriber.
pub const EXP_SERVICE_BARRED: u32 = 5557;
/// SGd: the message-waiting list is full.
pub const EXP_MWD_LIST_FULL: u32 = 5558;

/// True for protocol errors (3xxx), which are sent with the E bit set (RFC 6733 §7.1.3).
pub fn is_protocol_error(code: u32) -> bool {
    (3000..4000).contains(&code)
}
