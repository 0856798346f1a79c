//! The soak of issue 30 as a benchmark: one app opens the bundled case 60 times, the shipped model
//! segmenting each on the CPU and every fourth saving its labels; prints the resident memory after
//! each opening (the curve in benches/README.md). `cargo bench --bench soak`.

#[path = "../tests/common/soak.rs"]
mod soak_loop;

fn main() {
    let out = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let mb = soak_loop::soak(60, out.path());
    println!(
        "soak: 60 openings of assets/TCGA-DU-7294 with models/brats on the CPU in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    for (i, chunk) in mb.chunks(10).enumerate() {
        let mut c = chunk.to_vec();
        c.sort_by(f64::total_cmp);
        println!(
            "  openings {:2}-{:2}: resident MB min {:.0}, median {:.0}, max {:.0}",
            i * 10 + 1,
            i * 10 + chunk.len(),
            c[0],
            c[c.len() / 2],
            c[c.len() - 1]
        );
    }
}
