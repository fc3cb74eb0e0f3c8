//! What the LwM2M server asks the store about a device (docs/devices.md): the SIM an ICCID belongs
//! to, and the IMEI the HSS last saw for a SIM in an S6a Update-Location (the `registrations` rows),
//! to compare with the IMEI the device reports in object 3.

use sqlx::Row;

use crate::db::Store;
use crate::error::Result;

impl Store {
    /// The IMSI and tenant of the SIM with this ICCID.
    pub async fn sim_by_iccid(&self, iccid: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT imsi, tenant FROM sims WHERE iccid = $1")
            .bind(iccid)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((r.try_get("imsi")?, r.try_get("tenant")?))).transpose()
    }

    /// The IMEI (or IMEISV) of the latest Update-Location of this SIM that reported one.
    pub async fn last_ulr_imei(&self, imsi: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT imei FROM registrations WHERE imsi = $1 AND imei IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(imsi)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("imei")).transpose().map_err(Into::into)
    }
}
