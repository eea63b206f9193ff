//! Tiny, dependency-free deterministic hashing.
//!
//! Everything the simulator generates is a pure function of `(seed, sim index, day, …)`, so a
//! 100,000-SIM fleet with 180 days of history needs no memory for its history and two runs with
//! the same seed serve byte-identical data.

/// SplitMix64 finaliser: a fast, well-distributed 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a seed and a tuple of values; `salt` separates independent streams.
pub fn hash(seed: u64, salt: u64, a: u64, b: u64) -> u64 {
    mix64(mix64(mix64(seed ^ salt.wrapping_mul(0xA24B_AED4_963E_E407)) ^ a) ^ b.rotate_left(17))
}

/// Maps a hash to `[0, 1)`.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Maps a hash to `[0, n)`.
pub fn below(h: u64, n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        h % n
    }
}

/// Luhn check digit for a string of ASCII digits.
pub fn luhn_digit(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// True if the whole digit string (check digit last) passes the Luhn test.
pub fn luhn_valid(s: &str) -> bool {
    s.len() >= 2
        && s.bytes().all(|b| b.is_ascii_digit())
        && luhn_digit(&s[..s.len() - 1]) == s.chars().last().unwrap_or('x')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert_eq!(luhn_digit("7992739871"), '3');
        assert!(luhn_valid("79927398713"));
        assert!(luhn_valid("490154203237518")); // a well-known valid IMEI
        assert!(!luhn_valid("490154203237519"));
    }
}
