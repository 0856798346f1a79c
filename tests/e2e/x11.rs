//! A private X server (Xvfb) with the real `cloe` binary in it, driven by real X input events (xdotool)
//! and watched from outside through screenshots (ImageMagick's `import`) and the files it writes.
//!
//! Xvfb has no window manager: the app's window sits at the top-left corner and gets the keyboard only
//! after `xdotool windowfocus`, and the keyboard map must be set (`setxkbmap us`) or winit receives no
//! key events at all.

use image::RgbImage;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The programs the suite needs (Debian: xvfb, xdotool, x11-xkb-utils, imagemagick).
const TOOLS: [&str; 4] = ["Xvfb", "xdotool", "setxkbmap", "import"];

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// True when the tools are installed. When one is missing, CI (`CI=true`) fails; elsewhere the test
/// is skipped with a message.
pub fn tools_present() -> bool {
    let missing: Vec<&str> = TOOLS.into_iter().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{} not installed (apt: xvfb xdotool x11-xkb-utils imagemagick)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}; CI=true: this is a failure, not a skip");
    }
    eprintln!("skipping the real-window test: {msg}");
    false
}

/// A rectangle in window pixels: `[x0, y0, x1, y1)`.
#[derive(Clone, Copy, Debug)]
pub struct Rect(pub u32, pub u32, pub u32, pub u32);

impl Rect {
    pub fn center(self) -> (u32, u32) {
        ((self.0 + self.2) / 2, (self.1 + self.3) / 2)
    }

    /// The point at fractions `(fx, fy)` of the rectangle.
    pub fn at(self, fx: f32, fy: f32) -> (u32, u32) {
        (
            self.0 + ((self.2 - self.0) as f32 * fx) as u32,
            self.1 + ((self.3 - self.1) as f32 * fy) as u32,
        )
    }
}

/// Pixels of `rect` that differ between two screenshots by more than a little in some channel.
pub fn changed(a: &RgbImage, b: &RgbImage, rect: Rect) -> usize {
    let mut n = 0;
    for y in rect.1..rect.3.min(a.height()).min(b.height()) {
        for x in rect.0..rect.2.min(a.width()).min(b.width()) {
            let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
            if p.iter().zip(q).any(|(&u, v)| u.abs_diff(v) > 24) {
                n += 1;
            }
        }
    }
    n
}

/// Pixels of `rect` for which `pred(r, g, b)` holds.
pub fn count(img: &RgbImage, rect: Rect, pred: impl Fn(u8, u8, u8) -> bool) -> usize {
    let mut n = 0;
    for y in rect.1..rect.3.min(img.height()) {
        for x in rect.0..rect.2.min(img.width()) {
            let [r, g, b] = img.get_pixel(x, y).0;
            n += pred(r, g, b) as usize;
        }
    }
    n
}

/// The private X server; killed on drop.
pub struct Screen {
    xvfb: Child,
    pub display: String,
    /// Screenshots of the steps go here, numbered in order.
    pub shots: PathBuf,
    step: std::cell::Cell<usize>,
}

impl Screen {
    /// Starts Xvfb on a free display number with a US keyboard map. `-noreset`: by default Xvfb resets
    /// when its last client leaves, and an app started right after another has quit finds no server.
    pub fn start(name: &str) -> Screen {
        // A display is taken while the server named in its lock file runs; the lock and socket of a
        // server that was killed (a test run stopped with SIGKILL) are stale, and Xvfb replaces them.
        let taken = |n: u32| {
            let lock = std::fs::read_to_string(format!("/tmp/.X{n}-lock")).ok();
            let pid = lock.and_then(|l| l.trim().parse::<u32>().ok());
            match pid {
                Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
                None => Path::new(&format!("/tmp/.X{n}-lock")).exists(),
            }
        };
        let n = (130..200)
            .find(|&n| !taken(n))
            .expect("a free X display number");
        let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
        let display = format!(":{n}");
        let xvfb = Command::new("Xvfb")
            .args([
                &display,
                "-screen",
                "0",
                "1400x950x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let t = Instant::now();
        while !socket.exists() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(socket.exists(), "Xvfb did not start on {display}");
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e")
            .join(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        let screen = Screen {
            xvfb,
            display,
            shots,
            step: Default::default(),
        };
        let ok = Command::new("setxkbmap")
            .args(["-display", &screen.display, "us"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "setxkbmap failed");
        screen
    }

    /// Runs xdotool on this display; returns its output.
    pub fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("run xdotool");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// The real app in a window of `screen`; killed on drop if still running.
pub struct App<'a> {
    screen: &'a Screen,
    child: Child,
    window: String,
}

impl<'a> App<'a> {
    /// Starts `cloe <args>` with its own home folder (autosave, recent list) and waits for its window.
    pub fn launch(screen: &'a Screen, args: &[&str], home: &Path) -> App<'a> {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
        App::launch_binary(
            screen,
            Path::new(env!("CARGO_BIN_EXE_cloe")),
            args,
            home,
            checkout,
        )
    }

    /// Starts `binary <args>` in the folder `cwd`, as [`App::launch`] does.
    pub fn launch_binary(
        screen: &'a Screen,
        binary: &Path,
        args: &[&str],
        home: &Path,
        cwd: &Path,
    ) -> App<'a> {
        let runtime = home.join("runtime");
        std::fs::create_dir_all(&runtime).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let child = Command::new(binary)
            .args(args)
            .current_dir(cwd)
            .env("DISPLAY", &screen.display)
            .env("HOME", home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(home.join("app.log")).unwrap())
            .spawn()
            .expect("start cloe");
        let mut app = App {
            screen,
            child,
            window: String::new(),
        };
        let t = Instant::now();
        while app.window.is_empty() && t.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = app.child.try_wait() {
                let log = std::fs::read_to_string(home.join("app.log")).unwrap_or_default();
                panic!("cloe exited before showing a window: {status}\n{log}");
            }
            let found = screen.xdotool(&["search", "--onlyvisible", "--name", "^CLoE Studio$"]);
            app.window = found.lines().next().unwrap_or_default().to_string();
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(!app.window.is_empty(), "no CLoE Studio window after 60 s");
        app.focus();
        app
    }

    /// Gives the window the keyboard (there is no window manager to do it).
    pub fn focus(&self) {
        self.screen
            .xdotool(&["windowfocus", "--sync", &self.window]);
    }

    fn at(&self, (x, y): (u32, u32)) {
        let (x, y) = (x.to_string(), y.to_string());
        self.screen
            .xdotool(&["mousemove", "--window", &self.window, &x, &y]);
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Moves the pointer to `p` and leaves it there.
    pub fn hover(&self, p: (u32, u32)) {
        self.at(p);
    }

    pub fn click(&self, p: (u32, u32)) {
        self.at(p);
        self.screen.xdotool(&["click", "1"]);
        std::thread::sleep(Duration::from_millis(150));
    }

    pub fn double_click(&self, p: (u32, u32)) {
        self.at(p);
        self.screen
            .xdotool(&["click", "--repeat", "2", "--delay", "80", "1"]);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Presses `button` (1 left, 2 middle, 3 right) at `from`, moves to `to` in steps, releases.
    pub fn drag(&self, button: u8, from: (u32, u32), to: (u32, u32)) {
        let b = button.to_string();
        self.at(from);
        self.screen.xdotool(&["mousedown", &b]);
        std::thread::sleep(Duration::from_millis(60));
        for i in 1..=10 {
            let f = i as f32 / 10.0;
            let x = from.0 as f32 + (to.0 as f32 - from.0 as f32) * f;
            let y = from.1 as f32 + (to.1 as f32 - from.1 as f32) * f;
            self.at((x as u32, y as u32));
        }
        self.screen.xdotool(&["mouseup", &b]);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Turns the wheel `notches` times at `p`: positive away from the user (X button 4), negative
    /// towards (button 5).
    pub fn wheel(&self, p: (u32, u32), notches: i32) {
        self.at(p);
        let button = if notches > 0 { "4" } else { "5" };
        for _ in 0..notches.abs() {
            self.screen.xdotool(&["click", button]);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A key or chord in xdotool's names ("Up", "ctrl+z", "ctrl+shift+z").
    pub fn key(&self, chord: &str) {
        self.screen.xdotool(&["key", chord]);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Clicks a text field, selects what it holds and types `text` over it.
    pub fn fill(&self, field: (u32, u32), text: &str) {
        self.click(field);
        self.key("ctrl+a");
        self.screen.xdotool(&["type", "--delay", "15", "--", text]);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// A screenshot of the window.
    pub fn shot(&self) -> RgbImage {
        let out = Command::new("import")
            .args(["-display", &self.screen.display, "-window", &self.window])
            .arg("png:-")
            .output()
            .expect("run import");
        assert!(out.status.success(), "import failed");
        image::load_from_memory(&out.stdout)
            .expect("import wrote a PNG")
            .to_rgb8()
    }

    /// A screenshot once the window has drawn what the last input asked for (it no longer changes for
    /// 0.4 s: a frame under a software rasterizer takes a while), also saved as `NN-name.png` for
    /// whoever reads a failure.
    pub fn snap(&mut self, name: &str) -> RgbImage {
        let img = self.settle(Duration::from_millis(400), Duration::from_secs(60));
        self.keep(img, name)
    }

    /// A screenshot now, while something animates (a spinner of work in progress), saved as `snap`.
    pub fn snap_now(&mut self, name: &str) -> RgbImage {
        let img = self.shot();
        self.keep(img, name)
    }

    fn keep(&self, img: RgbImage, name: &str) -> RgbImage {
        let step = self.screen.step.get() + 1;
        self.screen.step.set(step);
        let _ = img.save(self.screen.shots.join(format!("{step:02}-{name}.png")));
        img
    }

    /// Waits until the window stops changing (nothing animates: no spinner, no work in progress) for
    /// `quiet`, at most `timeout`; returns the last screenshot.
    pub fn settle(&self, quiet: Duration, timeout: Duration) -> RgbImage {
        let whole = Rect(0, 0, 4096, 4096);
        let t = Instant::now();
        let mut last = self.shot();
        let mut since = Instant::now();
        while t.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(250));
            let now = self.shot();
            if changed(&last, &now, whole) > 0 {
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return now;
            }
            last = now;
        }
        panic!("the window kept changing for {timeout:?}");
    }

    /// Polls screenshots until `done` holds, at most `timeout`.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&RgbImage) -> bool,
    ) -> RgbImage {
        let t = Instant::now();
        loop {
            let img = self.shot();
            if done(&img) {
                return img;
            }
            if t.elapsed() > timeout {
                self.snap(&format!("timeout-{}", what.replace(' ', "-")));
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits for the app to exit by itself (after Ctrl+Q); true when it did within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for App<'_> {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
