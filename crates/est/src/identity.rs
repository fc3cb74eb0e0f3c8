//! A device's identity in its certificate: the endpoint name in the subject (`CN=<endpoint>`), and in
//! the subject alternative name as URIs: `urn:imei:TTTTTTTT-SSSSSS-C` for a bound IMEI (the form of
//! RFC 7254), `urn:imsi:<digits>` for a bound IMSI (a Warden convention: no URN namespace is
//! registered for IMSIs), and the endpoint name itself when it is a URN (`urn:…`, the form LwM2M
//! recommends for endpoint names).

/// The identity a certificate binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The endpoint name.
    pub endpoint: String,
    /// A bound IMSI.
    pub imsi: Option<String>,
    /// A bound IMEI (15 digits).
    pub imei: Option<String>,
}

/// Why an identity value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdentityError(pub String);

/// Checks an endpoint name: 1 to 128 characters of letters, digits and `. _ - :`.
pub fn check_endpoint(ep: &str) -> Result<(), IdentityError> {
    if ep.is_empty() || ep.len() > 128 {
        return Err(IdentityError(format!("endpoint name must be 1 to 128 characters, not {}", ep.len())));
    }
    if let Some(c) = ep.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))) {
        return Err(IdentityError(format!("endpoint name {ep:?} has the forbidden character {c:?}")));
    }
    Ok(())
}

/// Checks an IMSI: 6 to 15 digits.
pub fn check_imsi(imsi: &str) -> Result<(), IdentityError> {
    if !(6..=15).contains(&imsi.len()) || !imsi.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentityError(format!("IMSI {imsi:?} must be 6 to 15 digits")));
    }
    Ok(())
}

/// Checks an IMEI: 15 digits (TAC, serial number, check digit).
pub fn check_imei(imei: &str) -> Result<(), IdentityError> {
    if imei.len() != 15 || !imei.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentityError(format!("IMEI {imei:?} must be 15 digits")));
    }
    Ok(())
}

impl DeviceIdentity {
    /// Checks every part.
    pub fn check(&self) -> Result<(), IdentityError> {
        check_endpoint(&self.endpoint)?;
        self.imsi.as_deref().map(check_imsi).transpose()?;
        self.imei.as_deref().map(check_imei).transpose()?;
        Ok(())
    }

    /// The subject, as text.
    pub fn subject(&self) -> String {
        format!("CN={}", self.endpoint)
    }

    /// The subject alternative names (URIs) the certificate carries.
    pub fn san_uris(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.endpoint.starts_with("urn:") {
            out.push(self.endpoint.clone());
        }
        if let Some(imsi) = &self.imsi {
            out.push(format!("urn:imsi:{imsi}"));
        }
        if let Some(imei) = &self.imei {
            out.push(format!("urn:imei:{}-{}-{}", &imei[..8], &imei[8..14], &imei[14..]));
        }
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_follow_rfc_7254_and_the_documented_forms() {
        let id = DeviceIdentity {
            endpoint: "meter-1".into(),
            imsi: Some("001010000000001".into()),
            imei: Some("490154203237518".into()),
        };
        id.check().unwrap();
        assert_eq!(id.san_uris(), ["urn:imsi:001010000000001", "urn:imei:49015420-323751-8"]);
        assert_eq!(id.subject(), "CN=meter-1");
        let urn = DeviceIdentity { endpoint: "urn:uuid:1234".into(), imsi: None, imei: None };
        assert_eq!(urn.san_uris(), ["urn:uuid:1234"]);
    }

    #[test]
    fn bad_values_are_named() {
        assert!(check_endpoint("").is_err());
        assert!(check_endpoint("a b").unwrap_err().0.contains("' '"));
        assert!(check_endpoint(&"x".repeat(129)).is_err());
        assert!(check_imsi("12345").is_err());
        assert!(check_imsi("00101000000000a").is_err());
        assert!(check_imei("49015420323751").is_err());
    }
}
