//! Command-line definitions (clap). Names and flags here are an interface other tools drive: keep them.

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::hexarg::{hex_arg, HexBytes};

/// Warden: security core for IoT connectivity (HSS/AuC, EIR, roaming firewall, CMP, audits).
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    /// Configuration file (TOML); without it, the defaults of docs/configuration.md apply.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Authentication centre: run MILENAGE or TUAK on given inputs, or verify an AUTS.
    #[command(subcommand)]
    Auc(AucCommand),
    /// SIM over the air: build and check TS 102 225 secured packets (SMS-PP) and PoRs.
    #[command(subcommand)]
    Ota(OtaCommand),
    /// Device certificates over EST (docs/est.md): enrolment tokens, listing, revocation.
    #[command(subcommand)]
    Est(EstCommand),
    /// Run the HSS: Diameter S6a/S13 server (and metrics) until SIGINT/SIGTERM.
    Serve,
    /// Provision and manage SIMs.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Manage service profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Manage the EIR lists.
    #[command(subcommand)]
    Eir(EirCommand),
    /// Load generators.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Key-encryption key management.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Devices: DTLS credentials for CoAPs (LwM2M).
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// The database itself: moving it from SQLite to PostgreSQL.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// The hash-chained audit trail of mutating actions.
    #[command(subcommand, name = "audit-log")]
    AuditLog(AuditLogCommand),
    /// First-time set-up.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Tenants (IoT service providers).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Network security audit (GSMA CLP.14): checks, importers, live evidence, reports.
    #[command(subcommand)]
    Audit(crate::network_audit::AuditCommand),
    /// Security analytics: offline DPI of a capture for personal data in clear.
    #[command(subcommand)]
    Analytics(crate::analytics_cmd::AnalyticsCommand),
    /// Several `warden serve` instances on one database.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// TLS material for the API's listener (`[http.tls]`).
    #[command(subcommand)]
    Tls(TlsCommand),
}

/// `warden tls …`
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// For a lab only: write a self-signed certificate and key for the API's HTTPS.
    ///
    /// An ECDSA P-256 key and a certificate valid 90 days for the given names and addresses, as
    /// DIR/cert.pem and DIR/key.pem (mode 0600; existing files are never replaced); prints the
    /// [http.tls] lines to paste. Browsers and clients trust it only when told to: in production,
    /// use a certificate from your CA.
    SelfSigned {
        /// DNS name the certificate is for (repeatable; the first is also its common name).
        #[arg(long = "name", value_name = "HOST", required = true)]
        names: Vec<String>,
        /// IP address the certificate is for (repeatable).
        #[arg(long = "ip", value_name = "IP")]
        ips: Vec<std::net::IpAddr>,
        /// Directory to write cert.pem and key.pem into (created if missing; existing files are
        /// never overwritten).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
}

/// `warden cluster …`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The instances on the configured database: live or not, the Diameter nodes each reaches, and
    /// the CLR/IDR waiting per serving node.
    Status {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `warden admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first operator admin: a token, and a person for the portal with a random initial
    /// password; both are printed once (refused when an operator admin exists).
    Init {
        /// Name of the token.
        #[arg(long, default_value = "operator-admin")]
        name: String,
        /// Login name of the operator admin person.
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

/// `warden tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Its name (letters, digits, '-', '_').
        name: String,
    },
}

/// `warden token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; it is printed once and stored only as a hash.
    Issue {
        /// Role: tenant_admin, tenant_operator, tenant_viewer (or operator_admin without --tenant).
        #[arg(long)]
        role: String,
        /// Tenant the token acts for.
        #[arg(long)]
        tenant: Option<String>,
        /// Name of the token.
        #[arg(long)]
        name: String,
        /// Days until it expires.
        #[arg(long)]
        expires_days: Option<u32>,
        /// Source address it may be used from (repeatable; none: any).
        #[arg(long = "allow-source")]
        allow_source: Vec<std::net::IpAddr>,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The token id (the part after `wdn_`).
        id: String,
    },
}

/// `warden audit-log …`
#[derive(Debug, Subcommand)]
pub enum AuditLogCommand {
    /// Walk the whole chain; exit 1 at the first row that does not verify.
    Verify,
    /// Print the last entries as JSON lines.
    Show {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

/// `warden keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-seal every SIM's K and OPc with the current KEK (`[keys] kek_file`), reading rows sealed with
    /// any `[[keys.previous]]` KEK; runs beside a serving HSS, a batch per transaction.
    Reseal {
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

/// `warden devices …`
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Pre-shared keys for DTLS-PSK (CoAPs), one per LwM2M endpoint.
    #[command(subcommand)]
    Psk(PskCommand),
    /// Bootstrap-server credentials (DTLS-PSK on `bootstrap_listen`), one per LwM2M endpoint; the
    /// bootstrap provisions a fresh LwM2M-server PSK in their place of `psk add`.
    #[command(subcommand)]
    Bootstrap(PskCommand),
}

/// `warden devices psk …` and `warden devices bootstrap …` (same arguments).
#[derive(Debug, Subcommand)]
pub enum PskCommand {
    /// Store (or replace) an endpoint's PSK identity and key; the key is sealed like K/OPc and never
    /// printed.
    Add {
        /// The LwM2M endpoint name.
        endpoint: String,
        /// The PSK identity the device sends in its handshake.
        #[arg(long)]
        identity: String,
        /// The key, hex (8 to 64 bytes).
        #[arg(long, value_name = "HEX")]
        key: String,
        /// The SIM in the device: its tenant owns the credential (without it: the operator).
        #[arg(long)]
        imsi: Option<String>,
    },
    /// List endpoints and identities as JSON (never keys).
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove an endpoint's PSK.
    Remove {
        /// The LwM2M endpoint name.
        endpoint: String,
    },
}

/// `warden storage …`
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Copy every table of a SQLite store into an empty PostgreSQL database, in one transaction that
    /// commits only when row counts, SIM keys (opened with the configured `[keys]`) and the audit chain
    /// verify on the target. Stop `warden serve` first.
    Migrate {
        /// The SQLite store: `sqlite://PATH`.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The PostgreSQL database: `postgres://USER@HOST/DB` (every table empty).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `warden sim …`
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Import SIMs from CSV (`imsi,iccid,msisdn,k,opc,op,amf,algorithm,profile,priority,tenant`); all or nothing.
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
    },
    /// Change one SIM's status (inventory, active, suspended, terminated); the running server sends CLR.
    SetStatus {
        /// The IMSI.
        imsi: String,
        /// The new status.
        status: String,
    },
    /// Change one SIM's service profile; the running server sends IDR.
    SetProfile {
        /// The IMSI.
        imsi: String,
        /// The profile name.
        profile: String,
    },
    /// Import subscribers from another HSS: a PyHSS `auc` JSON list, an Open5GS `subscribers`
    /// mongoexport (JSON array) or an osmo-hlr database. COMP128/XOR subscribers are refused by name.
    ImportFrom {
        /// The system the file comes from.
        #[arg(value_enum)]
        source: crate::hss_import::Source,
        /// The export (JSON) or database (osmo-hlr) file.
        file: std::path::PathBuf,
        /// Service profile to assign to every imported SIM.
        #[arg(long)]
        profile: Option<String>,
        /// Tenant of the imported SIMs.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Import the acceptable subscribers even when some are refused (they are listed).
        #[arg(long)]
        skip_refused: bool,
        /// Import even when subscribers use published test keys or share one K (a lab or test
        /// network); without it such a source is refused as a whole.
        #[arg(long)]
        allow_test_keys: bool,
    },
    /// Show one SIM (never its keys).
    Show {
        /// The IMSI.
        imsi: String,
    },
}

/// `warden profile …`
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Import profiles from a TOML file of `[[profile]]` tables.
    Import {
        /// The TOML file.
        file: std::path::PathBuf,
    },
}

/// `warden eir …`
#[derive(Debug, Subcommand)]
pub enum EirCommand {
    /// Import a CEIR-style list (`imei,status,reason`; `tac:NNNNNNNN` for a TAC).
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
        /// Source recorded with each entry.
        #[arg(long, default_value = "ceir")]
        source: String,
    },
    /// Record a Device Host Identity report: the host device a module (IMEI) sits in (DM-6).
    HostReport {
        /// The module's IMEI.
        imei: String,
        /// Host make, model and software as reported.
        host: String,
    },
}

/// `warden bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// S6a AIR load against a Diameter server.
    S6a(BenchArgs),
    /// Gx CCR-Initial load against a PCRF (each request a new session).
    Gx(BenchArgs),
    /// DNS load against the DNS firewall from loopback source addresses (the SIMs' addresses).
    Dns(DnsBenchArgs),
    /// IPFIX flow records against the analytics collector, from loopback.
    Ipfix(IpfixBenchArgs),
    /// DPI throughput for personal data in clear, in this process: the seeded mixed payload corpus
    /// (as `cargo bench -p analytics --bench dpi`) or a pcap file's TCP and UDP payloads.
    Dpi(DpiBenchArgs),
    /// GTP-C through the GTP-C firewall, with a P-GW responder in the process (Modify Bearer
    /// Requests on tunnels it set up first; `--direct` without the firewall).
    Gtp(GtpBenchArgs),
}

/// `warden bench gtp` options.
#[derive(Debug, Clone, Args)]
pub struct GtpBenchArgs {
    /// The firewall's listener (`[gtp] listen`; loopback only for tests on shared machines).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2123")]
    pub target: std::net::SocketAddr,
    /// Where the P-GW responder listens (the firewall's `upstream`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2124")]
    pub pgw: std::net::SocketAddr,
    /// Send to the responder directly (the baseline without the firewall).
    #[arg(long)]
    pub direct: bool,
    /// Source address of the generator's nodes (a partner's address in `[[gtp.partners]]`).
    #[arg(long, default_value = "127.0.0.1")]
    pub source: std::net::IpAddr,
    /// Partner nodes (UDP sockets) sending.
    #[arg(long, default_value_t = 4)]
    pub sockets: usize,
    /// Tunnels set up first (IMSIs 00101 followed by 0 to sessions - 1).
    #[arg(long, default_value_t = 10_000)]
    pub sessions: u32,
    /// Modify Bearer Requests per second in the measured phase.
    #[arg(long, default_value_t = 100_000)]
    pub rate: u64,
    /// Length of the measured phase, seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `warden bench dpi` options.
#[derive(Debug, Clone, Args)]
pub struct DpiBenchArgs {
    /// Scan the TCP and UDP payloads of this capture (libpcap format) instead of the corpus.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,
    /// Bytes of generated payloads (default 4 MiB, the Criterion bench's corpus).
    #[arg(long, default_value_t = 4 << 20)]
    pub bytes: usize,
    /// Seed of the generated corpus.
    #[arg(long, default_value_t = analytics::dpi::corpus::SEED)]
    pub seed: u64,
    /// Least thread CPU time to measure, seconds (at least one pass over the payloads is made).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `warden bench ipfix` options.
#[derive(Debug, Clone, Args)]
pub struct IpfixBenchArgs {
    /// The collector (`[analytics] ipfix_listen`; loopback only for tests on shared machines).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: std::net::SocketAddr,
    /// Flow records in all (24 a datagram).
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Records per second (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// The server's metrics endpoint (`[metrics] listen`): measure records decoded end to end.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `warden bench dns` options.
#[derive(Debug, Clone, Args)]
pub struct DnsBenchArgs {
    /// The DNS firewall (loopback only).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: std::net::SocketAddr,
    /// Source addresses (loopback; each must be a SIM's Framed-IP-Address with a Gx session).
    #[arg(long = "source", value_name = "IP", required = true)]
    pub sources: Vec<std::net::IpAddr>,
    /// Names asked, in turn.
    #[arg(long = "name", value_name = "NAME", required = true)]
    pub names: Vec<String>,
    /// Questions in all.
    #[arg(long, default_value_t = 200_000)]
    pub queries: u64,
    /// Questions outstanding per source.
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `warden bench s6a` options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server address (loopback only for tests on shared machines).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: std::net::SocketAddr,
    /// File with one IMSI per line.
    #[arg(long, value_name = "FILE")]
    pub imsi_file: std::path::PathBuf,
    /// Target AIR rate per second (0: as fast as possible).
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Duration in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Diameter connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Requests in flight per connection at most.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Origin-Host of the generator (connection i uses `c{i}.` as a prefix when more than one).
    #[arg(long, default_value = "bench.warden.localdomain")]
    pub origin_host: String,
    /// Origin-Realm of the generator.
    #[arg(long, default_value = "warden.localdomain")]
    pub origin_realm: String,
    /// Destination-Realm.
    #[arg(long, default_value = "warden.localdomain")]
    pub destination_realm: String,
    /// Visited PLMN (MCCMNC).
    #[arg(long, default_value = "00101")]
    pub plmn: String,
    /// Called-Station-Id of `bench gx`'s sessions.
    #[arg(long, default_value = "internet")]
    pub apn: String,
    /// Framed-IP-Address of `bench gx`'s first session; request k gets this address + k.
    #[arg(long, default_value = "10.0.0.1")]
    pub first_ip: std::net::Ipv4Addr,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `warden auc …`
#[derive(Debug, Subcommand)]
pub enum AucCommand {
    /// MILENAGE (TS 35.206): prints opc, mac_a, mac_s, res, ck, ik, ak, ak_star, autn as JSON.
    Milenage(MilenageArgs),
    /// TUAK (TS 35.231): prints topc, mac_a, mac_s, res, ck, ik, ak, ak_star, autn as JSON.
    Tuak(TuakArgs),
    /// Any other algorithm name: refused (COMP128, XOR) or unknown.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// Inputs both algorithms share.
#[derive(Debug, Args)]
pub struct Common {
    /// Subscriber key K (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub k: HexBytes,
    /// RAND, 16 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub rand: HexBytes,
    /// SQN, 6 bytes (hex). Not needed with --auts.
    #[arg(long, value_name = "HEX", value_parser = hex_arg, required_unless_present = "auts")]
    pub sqn: Option<HexBytes>,
    /// AMF, 2 bytes (hex). Not needed with --auts.
    #[arg(long, value_name = "HEX", value_parser = hex_arg, required_unless_present = "auts")]
    pub amf: Option<HexBytes>,
    /// Verify this AUTS against RAND instead and print {"sqn_ms": "…"}.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub auts: Option<HexBytes>,
}

/// `warden auc milenage`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("operator").required(true).args(["op", "opc"])))]
pub struct MilenageArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Operator variant OP, 16 bytes (hex); OPc is derived from it.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub op: Option<HexBytes>,
    /// OPc, 16 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub opc: Option<HexBytes>,
}

/// `warden auc tuak`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("operator").required(true).args(["top", "topc"])))]
pub struct TuakArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Operator variant TOP, 32 bytes (hex); TOPc is derived from it.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub top: Option<HexBytes>,
    /// TOPc, 32 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub topc: Option<HexBytes>,
    /// MAC-A/MAC-S length in bits: 64, 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub mac_bits: u32,
    /// RES length in bits: 32, 64, 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub res_bits: u32,
    /// CK length in bits: 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub ck_bits: u32,
    /// IK length in bits: 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub ik_bits: u32,
    /// Number of Keccak-f[1600] iterations.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub iterations: u32,
}

/// `warden est …`
#[derive(Debug, Subcommand)]
pub enum EstCommand {
    /// Creates a one-time enrolment token for a device and prints it (once: only its hash is kept).
    Token(EstTokenArgs),
    /// Revokes a device certificate (it then shows as revoked in the CRL and OCSP, and cannot re-enrol).
    Revoke {
        /// The certificate's serial number (hex, as `openssl x509 -serial` prints it).
        serial: String,
        /// RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,
        /// cessationOfOperation, certificateHold, privilegeWithdrawn.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Prints the issuing CAs' certificates as PEM (what `[devices] coaps_client_ca` can name so the
    /// CoAPs listener takes EST-issued device certificates).
    CaCerts {
        /// Only this CA: a tenant's name, or `*` for the operator's.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Lists device certificates, newest first, one JSON object per line.
    List {
        /// Only this endpoint's.
        #[arg(long)]
        endpoint: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

/// `warden est token`
#[derive(Debug, Args)]
pub struct EstTokenArgs {
    /// The device's endpoint name (the certificate's CN).
    pub endpoint: String,
    /// The SIM's IMSI, bound in the certificate (`urn:imsi:…`); the certificate belongs to its tenant.
    #[arg(long)]
    pub imsi: Option<String>,
    /// The device's IMEI (15 digits), bound in the certificate (`urn:imei:…`, RFC 7254).
    #[arg(long)]
    pub imei: Option<String>,
    /// The tenant (without --imsi; default: the operator's).
    #[arg(long)]
    pub tenant: Option<String>,
    /// How long the token is valid: seconds, or a number with s, m, h or d (default: [devices] token_hours).
    #[arg(long)]
    pub ttl: Option<String>,
}

/// `warden ota …`
#[derive(Debug, Subcommand)]
pub enum OtaCommand {
    /// Server side: build a command packet, its SMS user data and SMS-DELIVER TPDU(s) as JSON.
    Encode(OtaEncodeArgs),
    /// Card side: verify and open a command packet and list its APDUs as JSON.
    Decode(OtaDecodeArgs),
    /// Server side: verify a proof of receipt and print its status and response as JSON.
    Por(OtaPorArgs),
    /// OTA key sets of the SIMs in the store.
    #[command(subcommand)]
    Keys(OtaKeysCommand),
}

/// `warden ota keys …`
#[derive(Debug, Subcommand)]
pub enum OtaKeysCommand {
    /// Import key sets from CSV (`imsi,keyset,kic,kid,tar,enc_key,mac_key`); all or nothing, keys sealed.
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
    },
}

/// The key set of `warden ota`.
#[derive(Debug, Args)]
pub struct OtaKeyArgs {
    /// KIc: ciphering algorithm (low nibble) and key index (high nibble), 1 byte (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub kic: HexBytes,
    /// KID: RC/CC algorithm (low nibble) and key index (high nibble), 1 byte (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub kid: HexBytes,
    /// Ciphering key for the KIc algorithm (hex; not needed without ciphering).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub enc_key: Option<HexBytes>,
    /// CC key for the KID algorithm (hex; not needed without a CC).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub mac_key: Option<HexBytes>,
}

/// `warden ota encode`
#[derive(Debug, Args)]
pub struct OtaEncodeArgs {
    /// Security parameter indicator, 2 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub spi: HexBytes,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub keys: OtaKeyArgs,
    /// Toolkit application reference, 3 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub tar: HexBytes,
    /// Counter, 5 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub cntr: HexBytes,
    /// A command APDU (hex); repeat for several, in order.
    #[arg(long, value_name = "HEX", value_parser = hex_arg, required = true)]
    pub apdu: Vec<HexBytes>,
    /// Remote command format (TS 102 226): compact or expanded.
    #[arg(long, value_name = "FORMAT", default_value = "compact", value_parser = ["compact", "expanded"])]
    pub format: String,
    /// Originating address of the SMS-DELIVER ("+" for an international number).
    #[arg(long, value_name = "DIGITS", default_value = "12345678")]
    pub originator: String,
    /// Service centre time stamp, 7 bytes (hex); default: now (UTC).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub scts: Option<HexBytes>,
    /// Concatenation reference for packets longer than one SMS; default: the counter's last byte.
    #[arg(long, value_name = "N")]
    pub concat_ref: Option<u8>,
}

/// `warden ota decode`
#[derive(Debug, Args)]
pub struct OtaDecodeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub keys: OtaKeyArgs,
    /// The command packet from CPL on (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub packet: HexBytes,
}

/// `warden ota por`
#[derive(Debug, Args)]
pub struct OtaPorArgs {
    /// The SPI of the command the PoR answers, 2 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub spi: HexBytes,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub keys: OtaKeyArgs,
    /// The TAR the command went to, 3 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub tar: HexBytes,
    /// The command's counter, 5 bytes (hex): when given, a PoR for another counter fails.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub cntr: Option<HexBytes>,
    /// Remote command format of the command (TS 102 226): compact or expanded.
    #[arg(long, value_name = "FORMAT", default_value = "compact", value_parser = ["compact", "expanded"])]
    pub format: String,
    /// The PoR's SMS user data, UDH (02 71 00) included (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub response: HexBytes,
}

/// Renders a clap error as one line: the message, with the argument names folded in, without
/// the usage block.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let body = text.split("\n\n").next().unwrap_or(&text);
    body.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
