//! Placeholder until the load generator lands.
use crate::cli::BenchArgs;
pub struct BenchReport;
impl BenchReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    pub fn to_text(&self) -> String {
        String::new()
    }
}
pub async fn run(_args: &BenchArgs) -> Result<BenchReport, String> {
    Err("not yet".into())
}
