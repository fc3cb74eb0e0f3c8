//! Cohort outliers: a device unlike the other devices of its tenant and profile.
//!
//! Each device is summarised by a [`Features`] vector taken from its baseline (log-scaled volumes,
//! flows, destinations, services, active hours, upload share, NXDOMAIN share, signalling). Per
//! cohort an isolation forest (Liu, Ting and Zhou, ICDM 2008) is trained on those vectors: random
//! axis-parallel splits isolate unusual points in few steps, and the score `2^(−E[h]/c(n))` is near
//! 1 for isolated points and about 0.5 or less for ordinary ones. A device is an outlier when its score
//! reaches [`CohortConfig::threshold`] **and** it lies at least [`CohortConfig::min_deviation`] robust
//! deviations (MAD, with a floor per feature) from the cohort's median in some feature — a cohort of
//! near-identical meters otherwise isolates harmless small differences.
//!
//! Training is deterministic (a seeded SplitMix64 generator) and pure: the server takes
//! [`Engine::cohort_features`](crate::detect::Engine::cohort_features), calls
//! [`CohortModels::train`] and [`CohortModels::outliers`] on a background thread, and hands the
//! outliers back to [`Engine::report_cohort_outliers`](crate::detect::Engine::report_cohort_outliers).

use std::collections::HashMap;
use std::sync::Arc;

use crate::baseline::DeviceBaseline;
use crate::observe::DeviceKey;

/// Number of features per device.
pub const FEATURE_COUNT: usize = 8;

/// One device's features.
pub type Features = [f64; FEATURE_COUNT];

/// Names of the features, in order.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "ln_bytes_per_hour",
    "ln_flows_per_hour",
    "ln_destinations",
    "ln_services",
    "active_hours_quarter",
    "upload_share_x2",
    "nxdomain_share_x2",
    "ln_signalling_per_hour",
];

/// The smallest deviation per feature that counts (in feature units: 0.7 in log space is a factor 2).
const FEATURE_FLOOR: Features = [0.7, 0.7, 0.7, 0.7, 1.0, 0.3, 0.3, 0.7];

/// The features of one baseline.
pub fn features(b: &DeviceBaseline) -> Features {
    [
        b.bytes_per_hour.mean().max(0.0).ln_1p(),
        b.flows_per_hour.mean().max(0.0).ln_1p(),
        (b.destination_count() as f64).ln_1p(),
        (b.service_count() as f64).ln_1p(),
        f64::from(b.active_hours.count_ones()) / 4.0,
        b.upload_share.mean() * 2.0,
        b.dns_nxdomain_ratio.mean() * 2.0,
        b.signalling_per_hour.mean().max(0.0).ln_1p(),
    ]
}

/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): small, fast and deterministic.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::baseline::mix64(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone)]
enum Node {
    Split { feature: u8, value: f64, left: u32, right: u32 },
    Leaf { size: u32 },
}

/// Average path length of an unsuccessful search in a binary search tree of `n` points, `c(n)`.
fn average_path(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_9) - 2.0 * (n - 1.0) / n
        }
    }
}

/// An isolation forest over [`Features`].
#[derive(Debug, Clone)]
pub struct IsolationForest {
    trees: Vec<Vec<Node>>,
    sample_size: usize,
}

impl IsolationForest {
    /// Trains `trees` trees on random subsamples of `sample_size` points.
    pub fn train(samples: &[Features], trees: usize, sample_size: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let sample_size = sample_size.min(samples.len()).max(1);
        let limit = (sample_size as f64).log2().ceil() as usize;
        let mut forest = Vec::with_capacity(trees);
        for _ in 0..trees {
            // Partial Fisher–Yates: a subsample without repetition.
            let mut idx: Vec<usize> = (0..samples.len()).collect();
            for i in 0..sample_size.min(idx.len()) {
                let j = i + rng.below(idx.len() - i);
                idx.swap(i, j);
            }
            idx.truncate(sample_size);
            let mut nodes = Vec::new();
            build(samples, &mut idx, 0, limit, &mut rng, &mut nodes);
            forest.push(nodes);
        }
        Self { trees: forest, sample_size }
    }

    /// The anomaly score of `x`: near 1 isolated, about 0.5 or less ordinary.
    pub fn score(&self, x: &Features) -> f64 {
        if self.trees.is_empty() {
            return 0.5;
        }
        let total: f64 = self.trees.iter().map(|t| path_length(t, x)).sum();
        let mean = total / self.trees.len() as f64;
        let c = average_path(self.sample_size);
        if c <= 0.0 {
            return 0.5;
        }
        2f64.powf(-mean / c)
    }
}

fn build(
    samples: &[Features],
    idx: &mut [usize],
    depth: usize,
    limit: usize,
    rng: &mut SplitMix64,
    nodes: &mut Vec<Node>,
) -> u32 {
    let me = nodes.len() as u32;
    nodes.push(Node::Leaf { size: idx.len() as u32 });
    if idx.len() <= 1 || depth >= limit {
        return me;
    }
    // Features that vary in this node.
    let mut ranges = [(0.0f64, 0.0f64); FEATURE_COUNT];
    let mut varying = Vec::with_capacity(FEATURE_COUNT);
    for (f, range) in ranges.iter_mut().enumerate() {
        let (lo, hi) = idx
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| (lo.min(samples[i][f]), hi.max(samples[i][f])));
        *range = (lo, hi);
        if hi > lo {
            varying.push(f);
        }
    }
    if varying.is_empty() {
        return me;
    }
    let feature = varying[rng.below(varying.len())];
    let (lo, hi) = ranges[feature];
    let value = lo + rng.unit() * (hi - lo);
    let mut split = 0;
    for i in 0..idx.len() {
        if samples[idx[i]][feature] < value {
            idx.swap(i, split);
            split += 1;
        }
    }
    let (left_idx, right_idx) = idx.split_at_mut(split);
    let left = build(samples, left_idx, depth + 1, limit, rng, nodes);
    let right = build(samples, right_idx, depth + 1, limit, rng, nodes);
    nodes[me as usize] = Node::Split { feature: feature as u8, value, left, right };
    me
}

fn path_length(tree: &[Node], x: &Features) -> f64 {
    let mut node = 0usize;
    let mut depth = 0.0;
    loop {
        match &tree[node] {
            Node::Split { feature, value, left, right } => {
                node = if x[usize::from(*feature)] < *value { *left as usize } else { *right as usize };
                depth += 1.0;
            }
            Node::Leaf { size } => return depth + average_path(*size as usize),
        }
    }
}

/// Cohort model parameters.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CohortConfig {
    /// Trees per forest.
    pub trees: usize,
    /// Points per tree.
    pub sample_size: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Isolation score from which a device is an outlier.
    pub threshold: f64,
    /// Robust deviations (|x − median| / max(1.4826·MAD, floor)) from the median a device must reach in
    /// some feature.
    pub min_deviation: f64,
    /// Cohorts smaller than this get no model.
    pub min_cohort: usize,
}

impl Default for CohortConfig {
    fn default() -> Self {
        Self {
            trees: 100,
            sample_size: 256,
            seed: 0x5741_5244_454e,
            threshold: 0.62,
            min_deviation: 4.0,
            min_cohort: 16,
        }
    }
}

/// An outlier found by [`CohortModels::outliers`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    /// The device.
    pub device: DeviceKey,
    /// Its isolation score.
    pub score: f64,
    /// The threshold it reached.
    pub threshold: f64,
    /// Devices its cohort model was trained on.
    pub cohort_size: usize,
}

#[derive(Debug, Clone)]
struct CohortModel {
    forest: IsolationForest,
    median: Features,
    scale: Features,
    size: usize,
}

/// One isolation forest per cohort (tenant, profile).
#[derive(Debug, Clone, Default)]
pub struct CohortModels {
    cfg: CohortConfig,
    models: HashMap<(Arc<str>, Arc<str>), CohortModel>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

impl CohortModels {
    /// Trains one model per cohort with at least `min_cohort` devices. Deterministic for the same input
    /// order and seed (the seed is mixed with the cohort's names).
    pub fn train(devices: &[(DeviceKey, Features)], cfg: &CohortConfig) -> Self {
        let mut groups: HashMap<(Arc<str>, Arc<str>), Vec<Features>> = HashMap::new();
        for (k, f) in devices {
            groups.entry((k.tenant.clone(), k.profile.clone())).or_default().push(*f);
        }
        let mut models = HashMap::new();
        for (key, samples) in groups {
            if samples.len() < cfg.min_cohort.max(2) {
                continue;
            }
            let seed = cfg.seed ^ crate::baseline::hash_bytes(format!("{}\0{}", key.0, key.1).as_bytes());
            let forest = IsolationForest::train(&samples, cfg.trees, cfg.sample_size, seed);
            let mut med = [0.0; FEATURE_COUNT];
            let mut scale = [0.0; FEATURE_COUNT];
            for f in 0..FEATURE_COUNT {
                let mut column: Vec<f64> = samples.iter().map(|s| s[f]).collect();
                med[f] = median(&mut column);
                let mut dev: Vec<f64> = column.iter().map(|v| (v - med[f]).abs()).collect();
                scale[f] = (1.4826 * median(&mut dev)).max(FEATURE_FLOOR[f]);
            }
            models.insert(key, CohortModel { forest, median: med, scale, size: samples.len() });
        }
        Self { cfg: cfg.clone(), models }
    }

    /// Number of cohorts with a model.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// No cohort has a model.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The isolation score and largest robust deviation of a device, if its cohort has a model.
    pub fn score(&self, device: &DeviceKey, x: &Features) -> Option<(f64, f64)> {
        let m = self.models.get(&(device.tenant.clone(), device.profile.clone()))?;
        let deviation = (0..FEATURE_COUNT).map(|f| (x[f] - m.median[f]).abs() / m.scale[f]).fold(0.0, f64::max);
        Some((m.forest.score(x), deviation))
    }

    /// The devices that are outliers of their cohort, in input order. Devices are scored cohort by
    /// cohort so that one forest stays in the cache while its devices are scored.
    pub fn outliers(&self, devices: &[(DeviceKey, Features)]) -> Vec<Outlier> {
        let mut order: Vec<usize> = (0..devices.len()).collect();
        order.sort_by(|&a, &b| {
            let (ka, kb) = (&devices[a].0, &devices[b].0);
            (&ka.tenant, &ka.profile).cmp(&(&kb.tenant, &kb.profile))
        });
        let mut found: Vec<(usize, Outlier)> = Vec::new();
        let mut current: Option<(&DeviceKey, Option<&CohortModel>)> = None;
        for i in order {
            let (k, x) = &devices[i];
            let model = match current {
                Some((last, model)) if last.tenant == k.tenant && last.profile == k.profile => model,
                _ => {
                    let model = self.models.get(&(k.tenant.clone(), k.profile.clone()));
                    current = Some((k, model));
                    model
                }
            };
            let Some(m) = model else { continue };
            let deviation = (0..FEATURE_COUNT).map(|f| (x[f] - m.median[f]).abs() / m.scale[f]).fold(0.0, f64::max);
            if deviation < self.cfg.min_deviation {
                continue; // near the median in every feature: not an outlier, whatever the forest says
            }
            let score = m.forest.score(x);
            if score >= self.cfg.threshold {
                found.push((
                    i,
                    Outlier { device: k.clone(), score, threshold: self.cfg.threshold, cohort_size: m.size },
                ));
            }
        }
        found.sort_by_key(|(i, _)| *i);
        found.into_iter().map(|(_, o)| o).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cohort(n: usize, seed: u64) -> Vec<Features> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| std::array::from_fn(|f| 3.0 + f as f64 * 0.1 + rng.unit() * 0.2)).collect()
    }

    #[test]
    fn an_isolated_point_scores_high_and_ordinary_points_do_not() {
        let mut samples = cohort(200, 1);
        // Unlike the others in three of eight features (an isolation forest picks features at random,
        // so one odd feature among eight isolates a point only in part of the trees).
        let mut odd = samples[0];
        odd[0] += 2.0;
        odd[2] += 3.0;
        odd[3] += 1.0;
        samples.push(odd);
        let forest = IsolationForest::train(&samples, 100, 128, 7);
        let s_odd = forest.score(&odd);
        let max_normal = samples[..200].iter().map(|s| forest.score(s)).fold(0.0, f64::max);
        assert!(s_odd > 0.65, "{s_odd}");
        assert!(max_normal + 0.05 < s_odd, "{max_normal} vs {s_odd}");
        // Deterministic for a seed.
        let again = IsolationForest::train(&samples, 100, 128, 7);
        assert_eq!(again.score(&odd), s_odd);
    }

    #[test]
    fn models_are_per_cohort_and_need_deviation_as_well_as_isolation() {
        let mut devices: Vec<(DeviceKey, Features)> = cohort(40, 2)
            .into_iter()
            .enumerate()
            .map(|(i, f)| (DeviceKey::new(&format!("00101{i:010}"), "t", "meter"), f))
            .collect();
        let mut phone = devices[0].1;
        phone[2] += 3.0;
        phone[0] += 2.0;
        devices.push((DeviceKey::new("001019999999999", "t", "meter"), phone));
        // A small cohort gets no model.
        devices.push((DeviceKey::new("001018888888888", "t", "camera"), phone));
        let models = CohortModels::train(&devices, &CohortConfig::default());
        assert_eq!(models.len(), 1);
        let outliers = models.outliers(&devices);
        assert_eq!(outliers.len(), 1, "{outliers:?}");
        assert_eq!(&*outliers[0].device.imsi, "001019999999999");
        assert_eq!(outliers[0].cohort_size, 41);
    }
}
