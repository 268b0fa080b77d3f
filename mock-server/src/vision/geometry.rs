//! The e-fence area: a polygon of 3–9 points, convex or concave, either winding, and the
//! rule for a person being inside it — the bottom-centre of their box (where the feet
//! stand) inside the polygon or on its edge.

/// A polygon's vertices, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon(pub Vec<(f64, f64)>);

impl Polygon {
    /// Parses `"x1,y1,x2,y2,…"`: 3–9 points of finite, non-negative numbers.
    pub fn parse(text: &str) -> Result<Polygon, String> {
        let numbers: Vec<f64> = text
            .split(',')
            .map(|n| n.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                format!("area `{}` has a value that is not a number; send \"x1,y1,x2,y2,x3,y3\"", short(text))
            })?;
        if numbers.len() % 2 == 1 {
            return Err(format!("area has {} numbers, an odd count; each point is an x,y pair", numbers.len()));
        }
        let points: Vec<(f64, f64)> = numbers.chunks(2).map(|c| (c[0], c[1])).collect();
        if !(3..=9).contains(&points.len()) {
            return Err(format!("area has {} points; it needs 3 to 9", points.len()));
        }
        Ok(Polygon(points))
    }

    /// Whether every vertex lies within a `width`×`height` image (edges included).
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.0.iter().all(|&(x, y)| (0.0..=f64::from(width)).contains(&x) && (0.0..=f64::from(height)).contains(&y))
    }

    /// Inside or on the boundary (even-odd rule, so any winding and concave shapes work).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let n = self.0.len();
        let mut inside = false;
        for i in 0..n {
            let (a, b) = (self.0[i], self.0[(i + 1) % n]);
            if on_segment(a, b, (x, y)) {
                return true;
            }
            if (a.1 > y) != (b.1 > y) {
                let cross_x = a.0 + (y - a.1) * (b.0 - a.0) / (b.1 - a.1);
                if x < cross_x {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

fn on_segment(a: (f64, f64), b: (f64, f64), p: (f64, f64)) -> bool {
    let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
    cross == 0.0 && p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
}

/// Where a person's feet stand: the bottom-centre of `[left, top, width, height]`.
pub fn feet(bbox: [u32; 4]) -> (f64, f64) {
    let [left, top, width, height] = bbox;
    (f64::from(left) + f64::from(width) / 2.0, f64::from(top) + f64::from(height))
}

fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_concave_polygon_in_either_winding() {
        // A "U": the notch between the arms is outside.
        let u = "0,0,30,0,30,30,20,30,20,10,10,10,10,30,0,30";
        for text in [u.to_string(), reversed(u)] {
            let p = Polygon::parse(&text).expect("parse");
            assert!(p.contains(5.0, 20.0) && p.contains(25.0, 20.0));
            assert!(!p.contains(15.0, 20.0), "the notch");
            assert!(p.contains(15.0, 10.0), "on the edge");
            assert!(p.contains(0.0, 0.0), "a vertex");
            assert!(!p.contains(31.0, 5.0));
        }
    }

    fn reversed(text: &str) -> String {
        let n: Vec<&str> = text.split(',').collect();
        n.chunks(2).rev().flat_map(|c| c.iter().copied()).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn malformed_areas_are_explained() {
        assert!(Polygon::parse("0,0,10,0").expect_err("2 points").contains("2 points"));
        assert!(Polygon::parse("0,0,10,0,10").expect_err("odd").contains("odd count"));
        assert!(Polygon::parse("0,0,10,x,10,10").expect_err("nan").contains("not a number"));
        assert!(Polygon::parse("1,1,".repeat(10).trim_end_matches(',')).expect_err("10").contains("10 points"));
    }
}
