//! The response status of a PoR (ETSI TS 102 225 table 5.5, with the values 3GPP TS 31.115 reserves).

/// Response status code of a PoR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    /// 0x00: PoR OK.
    PorOk,
    /// 0x01: RC/CC/DS failed.
    RcCcDsFailed,
    /// 0x02: CNTR low.
    CntrLow,
    /// 0x03: CNTR high.
    CntrHigh,
    /// 0x04: CNTR blocked.
    CntrBlocked,
    /// 0x05: ciphering error.
    CipheringError,
    /// 0x06: unidentified security error (e.g. the card could not find the key set).
    UnidentifiedSecurityError,
    /// 0x07: insufficient memory to process the incoming message.
    InsufficientMemory,
    /// 0x08: more time needed to process the command packet.
    MoreTimeNeeded,
    /// 0x09: TAR unknown.
    TarUnknown,
    /// 0x0A: insufficient security level.
    InsufficientSecurityLevel,
    /// 0x0B: reserved for 3GPP: the actual response data is sent in an SMS-SUBMIT (TS 31.115).
    ActualResponseSmsSubmit,
    /// 0x0C: reserved for 3GPP: the actual response data is sent in a USSD (TS 31.115).
    ActualResponseUssd,
    /// Any other value (reserved).
    Reserved(u8),
}

impl ResponseStatus {
    /// The status of a code.
    pub fn from_byte(b: u8) -> Self {
        use ResponseStatus::*;
        match b {
            0x00 => PorOk,
            0x01 => RcCcDsFailed,
            0x02 => CntrLow,
            0x03 => CntrHigh,
            0x04 => CntrBlocked,
            0x05 => CipheringError,
            0x06 => UnidentifiedSecurityError,
            0x07 => InsufficientMemory,
            0x08 => MoreTimeNeeded,
            0x09 => TarUnknown,
            0x0A => InsufficientSecurityLevel,
            0x0B => ActualResponseSmsSubmit,
            0x0C => ActualResponseUssd,
            other => Reserved(other),
        }
    }

    /// The code on the wire.
    pub fn to_byte(self) -> u8 {
        use ResponseStatus::*;
        match self {
            PorOk => 0x00,
            RcCcDsFailed => 0x01,
            CntrLow => 0x02,
            CntrHigh => 0x03,
            CntrBlocked => 0x04,
            CipheringError => 0x05,
            UnidentifiedSecurityError => 0x06,
            InsufficientMemory => 0x07,
            MoreTimeNeeded => 0x08,
            TarUnknown => 0x09,
            InsufficientSecurityLevel => 0x0A,
            ActualResponseSmsSubmit => 0x0B,
            ActualResponseUssd => 0x0C,
            Reserved(b) => b,
        }
    }

    /// A stable snake_case name (`por_ok`, `rc_cc_ds_failed`, …; `reserved_0x0d` for reserved codes).
    pub fn name(self) -> String {
        use ResponseStatus::*;
        match self {
            PorOk => "por_ok",
            RcCcDsFailed => "rc_cc_ds_failed",
            CntrLow => "cntr_low",
            CntrHigh => "cntr_high",
            CntrBlocked => "cntr_blocked",
            CipheringError => "ciphering_error",
            UnidentifiedSecurityError => "unidentified_security_error",
            InsufficientMemory => "insufficient_memory",
            MoreTimeNeeded => "more_time_needed",
            TarUnknown => "tar_unknown",
            InsufficientSecurityLevel => "insufficient_security_level",
            ActualResponseSmsSubmit => "actual_response_sms_submit",
            ActualResponseUssd => "actual_response_ussd",
            Reserved(b) => return format!("reserved_{b:#04x}"),
        }
        .to_string()
    }
}

impl core::fmt::Display for ResponseStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_a_distinct_name() {
        let names: std::collections::HashSet<String> = (0..=255u8)
            .map(|b| {
                let s = ResponseStatus::from_byte(b);
                assert_eq!(s.to_byte(), b);
                s.name()
            })
            .collect();
        assert_eq!(names.len(), 256);
        assert_eq!(ResponseStatus::from_byte(0x0B).name(), "actual_response_sms_submit");
        assert_eq!(ResponseStatus::from_byte(0x0D).name(), "reserved_0x0d");
    }
}
