//! Soak: one app process opens the bundled case 16 times, the shipped model segmenting each, every
//! fourth saving its labels; its resident memory over the last four openings is within 15 % of over
//! openings 3 to 6 (textures, expert caches, meshes and buffers of earlier cases are freed). Resident
//! memory swings by a few hundred MB from one opening to the next (the model's work buffers, returned
//! to the allocator or not), so medians of four are compared. In a process of its own, so other tests
//! do not share its memory. `cargo bench --bench soak` runs 60 openings and prints
//! the curve.

use crate::common::{child_test, in_child};

#[path = "../common/soak.rs"]
mod soak_loop;

#[test]
fn sixteen_openings_in_one_app_hold_their_memory() {
    let out = child_test("soak::soak_in_its_own_process", &[])
        .output()
        .expect("run the soak");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("soak:"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "runs in its own process, started by sixteen_openings_in_one_app_hold_their_memory"]
fn soak_in_its_own_process() {
    if !in_child() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mb = soak_loop::soak(16, out.path());
    println!("soak: resident MB after each opening {mb:.0?}");
    let median = |w: &[f64]| {
        let mut w = w.to_vec();
        w.sort_by(f64::total_cmp);
        (w[1] + w[2]) / 2.0
    };
    let (early, late) = (median(&mb[2..6]), median(&mb[12..16]));
    assert!(
        late <= early * 1.15,
        "resident memory grew from {early:.0} MB (median, openings 3-6) to {late:.0} MB (13-16)"
    );
}
