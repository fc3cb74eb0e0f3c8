//! The geometry of the HTML report's charts, read back from the SVG: no text overlaps another text or a
//! bar, everything stays inside the chart, every card uses one scale, and an area no input covered says
//! "not examined" instead of a score.

use std::path::PathBuf;

use audit::render::{self, Format};
use audit::{Area, Location, Report};

#[derive(Debug)]
struct Svg {
    size: (f64, f64),
    texts: Vec<(Bbox, String)>,
    /// (bar, count from its title).
    bars: Vec<(Bbox, usize)>,
}

#[derive(Debug, Clone, Copy)]
struct Bbox {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Bbox {
    fn overlaps(&self, o: &Bbox) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

fn attr(tag: &str, name: &str) -> Option<f64> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    tag[start..].split('"').next()?.parse().ok()
}

fn attr_str<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    tag[start..].split('"').next()
}

/// Reads the charts of an HTML report. Text boxes are estimated generously from the font size: glyphs
/// 0.62 em wide (0.68 em bold), ascent 1 em above the baseline, descent 0.3 em below.
fn charts(html: &str) -> Vec<(String, Svg)> {
    let mut out = Vec::new();
    for card in html.split("<div class=\"area").skip(1).filter(|c| !c.starts_with("s\"")) {
        let id = attr_str(card, "id").unwrap().to_string();
        let svg_at = card.find("<svg").unwrap();
        let svg = &card[svg_at..card.find("</svg>").unwrap()];
        let head = &svg[..svg.find('>').unwrap()];
        let mut parsed =
            Svg { size: (attr(head, "width").unwrap(), attr(head, "height").unwrap()), texts: vec![], bars: vec![] };
        for piece in svg.split("<text").skip(1) {
            let tag = &piece[..piece.find('>').unwrap()];
            let content = &piece[piece.find('>').unwrap() + 1..piece.find("</text>").unwrap()];
            let fs = attr(tag, "font-size").expect("every text has an explicit font-size");
            let em = if tag.contains("font-weight=\"bold\"") { 0.68 } else { 0.62 };
            let w = content.chars().count() as f64 * em * fs;
            let (x, y) = (attr(tag, "x").unwrap(), attr(tag, "y").unwrap());
            let x0 = if tag.contains("text-anchor=\"middle\"") { x - w / 2.0 } else { x };
            parsed.texts.push((Bbox { x0, y0: y - fs, x1: x0 + w, y1: y + 0.3 * fs }, content.to_string()));
        }
        for piece in svg.split("<rect").skip(1) {
            let tag = &piece[..piece.find('>').unwrap()];
            let title = &piece[piece.find("<title>").unwrap() + 7..piece.find("</title>").unwrap()];
            let n: usize = title.split(' ').next().unwrap().parse().unwrap();
            let (x, y) = (attr(tag, "x").unwrap(), attr(tag, "y").unwrap());
            let (w, h) = (attr(tag, "width").unwrap(), attr(tag, "height").unwrap());
            parsed.bars.push((Bbox { x0: x, y0: y, x1: x + w, y1: y + h }, n));
        }
        out.push((id, parsed));
    }
    out
}

/// The weak example plus evidence that gives areas very different counts.
fn report() -> Report {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (_, mut r) = audit::audit_description_file(&root.join("../../examples/network-weak.toml")).unwrap();
    for i in 0..12 {
        let at = Location { file: None, line: None, path: format!("tls://127.0.0.1:{i}") };
        r.raise("WA-TLS-003", "tls-probe", at, format!("suites {i}"));
    }
    r
}

#[test]
fn chart_texts_never_overlap_each_other_or_the_bars() {
    let html = render::render(&report(), Format::Html);
    let charts = charts(&html);
    assert_eq!(charts.len(), Area::ALL.len());
    for (id, svg) in &charts {
        for (i, (a, ta)) in svg.texts.iter().enumerate() {
            assert!(
                a.x0 >= 0.0 && a.y0 >= 0.0 && a.x1 <= svg.size.0 && a.y1 <= svg.size.1,
                "{id}: {ta:?} leaves the chart"
            );
            for (b, tb) in &svg.texts[i + 1..] {
                assert!(!a.overlaps(b), "{id}: {ta:?} {a:?} overlaps {tb:?} {b:?}");
            }
            for (bar, n) in &svg.bars {
                assert!(!a.overlaps(bar), "{id}: {ta:?} {a:?} overlaps the bar of {n} {bar:?}");
            }
        }
    }
}

#[test]
fn every_chart_uses_one_scale() {
    let r = report();
    let html = render::render(&r, Format::Html);
    let bars: Vec<(f64, usize)> =
        charts(&html).iter().flat_map(|(_, s)| s.bars.iter().map(|(b, n)| (b.y1 - b.y0, *n))).collect();
    let max = bars.iter().map(|b| b.1).max().unwrap();
    assert_eq!(max, 12, "the TLS probe's info findings are the largest count");
    let full = bars.iter().find(|b| b.1 == max).unwrap().0;
    for (h, n) in &bars {
        let want = if *n == 0 { 0.0 } else { (full * *n as f64 / max as f64).round().max(2.0) };
        assert!((h - want).abs() <= 0.5, "a bar of {n} is {h} px high, {want} px on the common scale");
    }
    // The area with the most findings besides the TLS probe's does not reach the full height.
    let radio = r.scores().into_iter().find(|a| a.area == Area::Radio).unwrap();
    assert!(*radio.counts.iter().max().unwrap() < max);
}

#[test]
fn an_area_no_input_covered_says_not_examined_and_does_not_count() {
    let r = report();
    let html = render::render(&r, Format::Html);
    let charts = charts(&html);
    for key in ["subscribers", "consistency"] {
        let (_, svg) = charts.iter().find(|(id, _)| id == &format!("area-{key}")).unwrap();
        let texts: Vec<&str> = svg.texts.iter().map(|t| t.1.as_str()).collect();
        assert!(texts.contains(&"not examined"), "{key}: {texts:?}");
        assert!(!texts.iter().any(|t| t.contains("/100")), "{key}: {texts:?}");
        assert!(svg.bars.is_empty());
    }
    let (_, radio) = charts.iter().find(|(id, _)| id == "area-radio").unwrap();
    assert!(radio.texts.iter().any(|t| t.1 == "score 0/100"));
    // The overall score is the mean of the 8 examined areas, never raised by the unexamined ones.
    let examined: Vec<u32> = r.scores().iter().filter(|a| a.examined).map(|a| a.score).collect();
    assert_eq!(examined.len(), 8);
    let mean = (examined.iter().sum::<u32>() as f64 / 8.0).round() as u32;
    assert_eq!(r.overall_score(), mean.min(40));
    let json: serde_json::Value = serde_json::from_str(&render::render(&r, Format::Json)).unwrap();
    let subs = json["areas"].as_array().unwrap().iter().find(|a| a["area"] == "subscribers").unwrap();
    assert!(subs["score"].is_null() && subs["examined"] == false);
}
