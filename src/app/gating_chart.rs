//! The gating chart: what the gate did on this case and subset. With all four modalities the weights lie
//! within a few hundredths of each other, so each used expert's w is drawn as a bar from the uniform
//! weight 1/n (the gate trusting every expert alike) up or down to its value, on a scale fitted to the
//! largest departure (never finer than ±0.015, so a 0.01 difference spans a third of the chart); the
//! figures, with u and v, are listed beside.

use crate::case::Subset;
use crate::infer::CaseMaps;
use eframe::egui;
use egui_plot::{Bar, BarChart, HLine, Plot};

/// The smallest half-range of the chart around 1/n.
const MIN_HALF_RANGE: f64 = 0.015;

/// The y range drawn: 1/n ± 1.25 times the largest departure of a used weight, at least ±0.015, within
/// 0..1.
pub fn y_range(weights: &[f64], uniform: f64) -> (f64, f64) {
    let largest = (weights.iter()).fold(0.0f64, |m, w| m.max((w - uniform).abs()));
    let half = (largest * 1.25).max(MIN_HALF_RANGE);
    ((uniform - half).max(0.0), (uniform + half).min(1.0))
}

/// Draws the chart and the figures of the used experts.
pub fn gating_chart(
    ui: &mut egui::Ui,
    maps: &CaseMaps,
    subset: &Subset,
    names: &'static [&'static str],
) {
    let used: Vec<usize> = (0..names.len()).filter(|&i| subset.contains(i)).collect();
    if used.is_empty() {
        return;
    }
    let uniform = 1.0 / used.len() as f64;
    let weights: Vec<f64> = used.iter().map(|&i| maps.w[i]).collect();
    let (lo, hi) = y_range(&weights, uniform);
    ui.label(format!(
        "Gating weights w against 1/{} = {uniform:.3}",
        used.len()
    ))
    .on_hover_text("above the line: the gate trusted this expert more than the others");
    let (more, less) = (
        egui::Color32::from_rgb(90, 170, 110),
        egui::Color32::from_rgb(200, 110, 90),
    );
    let bars: Vec<Bar> = (used.iter().zip(&weights))
        .map(|(&i, &w)| {
            let colour = if w >= uniform { more } else { less };
            Bar::new(i as f64, w - uniform)
                .base_offset(uniform)
                .name(format!("{} w {w:.3}", names[i]))
                .width(0.6)
                .fill(colour)
        })
        .collect();
    Plot::new("gating")
        .height(120.0)
        .include_y(lo)
        .include_y(hi)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .x_axis_formatter(move |m, _| {
            (names.get(m.value.round() as usize))
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
        .show(ui, |plot| {
            plot.hline(HLine::new("1/n", uniform).color(egui::Color32::GRAY));
            plot.bar_chart(BarChart::new("w", bars));
        });
    egui::Grid::new("gating-figures")
        .striped(true)
        .show(ui, |ui| {
            for head in ["", "w", "w − 1/n", "u", "v"] {
                ui.strong(head);
            }
            ui.end_row();
            for &i in &used {
                ui.label(names[i]);
                ui.monospace(format!("{:.3}", maps.w[i]));
                ui.monospace(format!("{:+.3}", maps.w[i] - uniform));
                ui.monospace(format!("{:.3}", maps.u[i]));
                ui.monospace(format!("{:.3}", maps.v[i]));
                ui.end_row();
            }
        });
    if let Some(d) = maps.mean_disagreement_in_tumour() {
        ui.label(format!("mean disagreement in tumour: {d:.4}"));
    }
}

#[cfg(test)]
mod tests {
    use super::y_range;

    #[test]
    fn the_scale_shows_a_hundredth() {
        // Four experts within 0.24–0.26: a 0.01 difference is a third of the range or more.
        let (lo, hi) = y_range(&[0.24, 0.25, 0.26, 0.25], 0.25);
        assert!(
            (hi - lo) <= 0.0375 + 1e-12 && 0.01 / (hi - lo) >= 0.26,
            "{lo} {hi}"
        );
        assert!(lo < 0.24 && hi > 0.26);
        // A gate that trusts one expert: the whole departure fits, within 0..1.
        let (lo, hi) = y_range(&[0.9, 0.1], 0.5);
        assert_eq!((lo, hi), (0.0, 1.0));
        // Equal weights: the smallest range.
        assert_eq!(y_range(&[0.5, 0.5], 0.5), (0.485, 0.515));
    }
}
