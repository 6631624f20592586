//! How a duration reads to the user ("3.2s", "1m05s", "1h02m"), in status
//! lines, busy messages and reports alike.

/// "3.2s", "1m05s", "1h02m".
pub fn human_duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(3.21), "3.2s");
        assert_eq!(human_duration(65.0), "1m05s");
        assert_eq!(human_duration(3720.0), "1h02m");
    }
}
