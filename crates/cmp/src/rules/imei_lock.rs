//! The IMEI lock (SUB-7: a SIM moved to another device is detected): one decision for the lock a
//! tenant rule sets and for the lock a service profile carries, which the HSS enforces inside the
//! Update-Location-Request.

use ids::Imei;
use serde::{Deserialize, Serialize};

/// How an IMEI lock binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Bind to the first IMEI seen.
    FirstSeen,
    /// Only the listed IMEIs.
    List,
}

/// The verdict on a registration from a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockVerdict {
    /// An allowed device.
    Ok,
    /// The first device of a `first_seen` lock: bind it.
    Bind,
    /// Not an allowed device.
    Violation,
}

/// Decides a lock for a registration from `imei`, given the devices already bound to the SIM and, for
/// a `list` lock, the allowed devices. The check digit, present or not, does not matter.
pub fn check(mode: LockMode, allowed: &[Imei], bound: &[String], imei: &Imei) -> LockVerdict {
    let body = imei.body();
    let verdict_if = |ok: bool| if ok { LockVerdict::Ok } else { LockVerdict::Violation };
    match mode {
        LockMode::FirstSeen if bound.is_empty() => LockVerdict::Bind,
        LockMode::FirstSeen => verdict_if(bound.iter().any(|b| b.get(..14).unwrap_or(b) == body)),
        LockMode::List => verdict_if(allowed.iter().any(|a| a.same_device(imei))),
    }
}

/// The lock of a service profile (`imei_lock = "first" | "list"`): `first` binds the first device,
/// `list` allows only the devices already bound to the SIM.
pub fn check_profile_lock(lock: store::model::ImeiLock, bound: &[String], imei: &Imei) -> LockVerdict {
    use store::model::ImeiLock;
    match lock {
        ImeiLock::None => LockVerdict::Ok,
        ImeiLock::First => check(LockMode::FirstSeen, &[], bound, imei),
        ImeiLock::List => {
            let allowed: Vec<Imei> = bound.iter().filter_map(|b| b.parse().ok()).collect();
            check(LockMode::List, &allowed, bound, imei)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imei(s: &str) -> Imei {
        s.parse().unwrap()
    }

    #[test]
    fn first_seen_binds_then_refuses_others() {
        let first = imei("35693803564380");
        assert_eq!(check(LockMode::FirstSeen, &[], &[], &first), LockVerdict::Bind);
        let bound = vec!["35693803564380".to_string()];
        assert_eq!(check(LockMode::FirstSeen, &[], &bound, &imei("356938035643809")), LockVerdict::Ok, "check digit");
        assert_eq!(check(LockMode::FirstSeen, &[], &bound, &imei("49015420323751")), LockVerdict::Violation);
    }

    #[test]
    fn list_lock() {
        let allowed = [imei("490154203237518")];
        assert_eq!(check(LockMode::List, &allowed, &[], &imei("49015420323751")), LockVerdict::Ok);
        assert_eq!(check(LockMode::List, &allowed, &[], &imei("35693803564380")), LockVerdict::Violation);
    }

    #[test]
    fn profile_locks() {
        use store::model::ImeiLock;
        let bound = vec!["49015420323751".to_string()];
        let other = imei("35693803564380");
        assert_eq!(check_profile_lock(ImeiLock::None, &bound, &other), LockVerdict::Ok);
        assert_eq!(check_profile_lock(ImeiLock::First, &[], &other), LockVerdict::Bind);
        assert_eq!(check_profile_lock(ImeiLock::First, &bound, &other), LockVerdict::Violation);
        assert_eq!(check_profile_lock(ImeiLock::List, &[], &other), LockVerdict::Violation, "list: nothing bound");
        assert_eq!(check_profile_lock(ImeiLock::List, &bound, &imei("490154203237518")), LockVerdict::Ok);
    }
}
