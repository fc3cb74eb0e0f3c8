//! The per-area SVG bar chart of the HTML report: findings per severity under a header line with the
//! score. The geometry keeps text apart: the header band (score) lies above the highest count label,
//! the count labels above their bars, the severity names below the axis. Every chart of a report uses
//! one scale (`scale_max` findings = the full bar height), so bars compare across cards. An area that
//! no input covered shows "not examined" and no bars.

use std::fmt::Write as _;

use super::html::escape;
use crate::catalogue::Severity;
use crate::report::AreaScore;

/// Width and height of a chart.
pub const SIZE: (u32, u32) = (260, 150);
/// The y of the highest bar top and of the axis (bar bottoms).
pub const PLOT: (u32, u32) = (40, 118);
/// Font sizes (px) of the header line and of the labels.
pub const FONT: (u32, u32) = (13, 11);

// The highest count label (its baseline 4 px above the bar, its glyphs `FONT.1` px tall) stays clear of
// the header line (baseline 16, descenders 3 px).
const _: () = assert!(PLOT.0 >= 16 + 3 + FONT.1 + 4 + 2);

/// Bar colours per severity, info first.
pub const COLOURS: [&str; 5] = ["#6c757d", "#2f7fc1", "#d9a300", "#e06c00", "#c0262d"];

/// The height in px of a bar of `n` findings when `scale_max` findings fill the plot (at least 2 px for
/// one finding, so no finding is invisible).
pub fn bar_height(n: usize, scale_max: usize) -> u32 {
    let full = (PLOT.1 - PLOT.0) as usize;
    if n == 0 {
        return 0;
    }
    (((n * full) as f64 / scale_max.max(n) as f64).round() as u32).max(2)
}

/// The chart of one area; `scale_max` is the largest count of any chart of the report.
pub fn chart(a: &AreaScore, scale_max: usize) -> String {
    let (w, h) = SIZE;
    let (top, base) = PLOT;
    let (big, small) = FONT;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{} findings by severity\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        escape(a.area.title())
    );
    if !a.examined {
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"16\" font-size=\"{big}\" font-weight=\"bold\" fill=\"#666\">not examined</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"{small}\" text-anchor=\"middle\" fill=\"#666\">no input covers this area</text></svg>",
            w / 2,
            (top + base) / 2
        );
        return svg;
    }
    let _ = write!(svg, "<text x=\"4\" y=\"16\" font-size=\"{big}\" font-weight=\"bold\">score {}/100</text>", a.score);
    let _ = write!(svg, "<line x1=\"0\" y1=\"{base}\" x2=\"{w}\" y2=\"{base}\" stroke=\"#999\"/>");
    for (i, sev) in Severity::ALL.iter().rev().enumerate() {
        let n = a.counts[*sev as usize];
        let bar = bar_height(n, scale_max);
        let x = 10 + i as u32 * 50;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"36\" height=\"{bar}\" fill=\"{}\"><title>{n} {}</title></rect>",
            base - bar,
            COLOURS[*sev as usize],
            sev.as_str()
        );
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"{small}\" text-anchor=\"middle\">{n}</text>",
            x + 18,
            base - bar - 4
        );
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"{small}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            x + 18,
            base + 16,
            sev.as_str()
        );
    }
    svg.push_str("</svg>");
    svg
}
