//! The charts' geometry, table by table.

use super::*;

#[test]
fn scales_map_a_domain_onto_a_range() {
    let cases = [
        (5.0, (0.0, 10.0), (0.0, 100.0), 50.0),
        (0.0, (0.0, 10.0), (200.0, 20.0), 200.0),
        (10.0, (0.0, 10.0), (200.0, 20.0), 20.0),
        (7.0, (7.0, 7.0), (0.0, 100.0), 50.0),
        (-5.0, (-10.0, 0.0), (0.0, 10.0), 5.0),
    ];
    for (v, d, r, want) in cases {
        assert_eq!(scale(v, d, r), want, "{v} {d:?} {r:?}");
    }
}

#[test]
fn steps_are_one_two_or_five_times_a_power_of_ten() {
    let cases = [
        (10.0, 5, 2.0),
        (10.0, 10, 1.0),
        (7.0, 6, 2.0),
        (1000.0, 6, 200.0),
        (0.3, 6, 0.05),
        (45.0, 6, 10.0),
        (0.0, 6, 1.0),
        (f64::NAN, 6, 1.0),
    ];
    for (span, target, want) in cases {
        let step = nice_step(span, target);
        assert!((step - want).abs() < 1e-12, "{span}/{target}: {step}");
    }
}

#[test]
fn value_axes_start_at_zero_and_reach_the_maximum() {
    let cases: [(f64, bool, &[f64]); 6] = [
        (10.0, true, &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
        (11.0, true, &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]),
        (3.0, true, &[0.0, 1.0, 2.0, 3.0]),
        (0.0, true, &[0.0, 1.0]),
        (
            1.2,
            false,
            &[
                0.0,
                0.2,
                0.4,
                0.6000000000000001,
                0.8,
                1.0,
                1.2000000000000002,
            ],
        ),
        (250.0, true, &[0.0, 50.0, 100.0, 150.0, 200.0, 250.0]),
    ];
    for (max, integer, want) in cases {
        assert_eq!(value_ticks(max, 6, integer), want, "{max}");
    }
}

#[test]
fn time_axes_take_a_round_step_aligned_to_utc() {
    let h = HOUR_MS;
    // (min, max, first tick, step, ticks, first label)
    let cases = [
        (0, 6 * h, 0, h, 7, "00:00"),
        (h / 2, 6 * h, h, h, 6, "01:00"),
        (0, 30 * 1000, 0, 5000, 7, "00:00:00"),
        (0, 10 * DAY_MS, 0, 2 * DAY_MS, 6, "01-01"),
        (1000, 1000, 1000, 1000, 1, "00:00:01"),
    ];
    for (min, max, first, step, count, label) in cases {
        let (ticks, s) = time_ticks(min, max, 6);
        assert_eq!(s, step, "{min}..{max}");
        assert_eq!(ticks.len(), count, "{min}..{max}: {ticks:?}");
        assert_eq!(ticks[0], first, "{min}..{max}");
        assert!(ticks
            .iter()
            .all(|t| *t >= min && *t <= max && t % step == 0));
        assert_eq!(time_label(ticks[0], s), label);
    }
}

#[test]
fn downsampling_keeps_the_extremes_of_each_run() {
    let short: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64)).collect();
    assert_eq!(downsample(&short, 10), short, "short series are kept");

    // A spike in a long flat series survives.
    let mut long: Vec<(f64, f64)> = (0..5000).map(|i| (i as f64, 1.0)).collect();
    long[2500].1 = 99.0;
    long[4000].1 = -3.0;
    for max in [400, 100, 7] {
        let kept = downsample(&long, max);
        assert!(kept.len() <= max, "{max}: {}", kept.len());
        assert!(kept.contains(&(2500.0, 99.0)), "{max}: the spike");
        assert!(kept.contains(&(4000.0, -3.0)), "{max}: the dip");
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "{max}: in order");
    }
}

#[test]
fn sizes_fall_in_power_of_two_bins() {
    const KIB: u64 = 1024;
    // (sizes, (low, high, count) of each bin)
    type Case = (&'static [u64], &'static [(u64, u64, u64)]);
    let cases: [Case; 5] = [
        (&[], &[]),
        (&[1000], &[(512, 1024, 1)]),
        (
            &[KIB, KIB + 1, 3 * KIB, 8 * KIB],
            &[
                (KIB, 2 * KIB, 2),
                (2 * KIB, 4 * KIB, 1),
                (4 * KIB, 8 * KIB, 0),
                (8 * KIB, 16 * KIB, 1),
            ],
        ),
        (&[0, 1], &[(1, 2, 2)]),
        (&[u64::MAX], &[(1 << 63, u64::MAX, 1)]),
    ];
    for (sizes, want) in cases {
        let bins: Vec<(u64, u64, u64)> = (size_bins(sizes).iter())
            .map(|b| (b.low, b.high, b.count))
            .collect();
        assert_eq!(bins, want, "{sizes:?}");
    }
}

#[test]
fn commits_are_counted_per_hour_up_to_the_newest() {
    let h = HOUR_MS;
    // (timestamps, max hours, start, counts)
    let cases: [(&[i64], usize, i64, &[u64]); 5] = [
        (&[], 24, 0, &[]),
        (&[10, 20, h + 5], 24, 0, &[2, 1]),
        (&[5 * h + 1, h, 3 * h + 2], 24, h, &[1, 0, 1, 0, 1]),
        (&[0, 10 * h, 11 * h], 2, 10 * h, &[1, 1]),
        (&[7 * h], 0, 7 * h, &[1]),
    ];
    for (times, max, start, counts) in cases {
        assert_eq!(per_hour(times, max), (start, counts.to_vec()), "{times:?}");
    }
}

fn head() -> Head {
    Head {
        id: "c",
        title: "t",
        note: String::new(),
        empty: "nothing",
    }
}

#[test]
fn line_charts_place_every_point_inside_the_plot() {
    let series = |name: &str, points: Vec<(i64, f64)>| Series {
        name: name.into(),
        class: "s1",
        points,
    };
    let axis = || ValueAxis {
        label: "files".into(),
        unit: 1.0,
        integer: true,
    };
    let points: Vec<(i64, f64)> = (0..5).map(|i| (i * HOUR_MS, (i * 2) as f64)).collect();
    let chart = time_lines(
        head(),
        axis(),
        vec![series("a", points), series("none", vec![])],
    );
    assert_eq!(chart.empty, None);
    assert_eq!(chart.lines.len(), 1, "the empty series is left out");
    let line = &chart.lines[0];
    assert_eq!(line.count, 5);
    let xy: Vec<(f64, f64)> = (line.points.split(' '))
        .map(|p| p.split_once(',').expect("x,y"))
        .map(|(x, y)| (x.parse().expect("x"), y.parse().expect("y")))
        .collect();
    assert_eq!(xy.first(), Some(&(chart.left, chart.bottom)), "(0, 0)");
    assert_eq!(xy.last(), Some(&(chart.right, chart.top)), "(max, max)");
    assert_eq!(chart.y_ticks.last().map(|t| t.label.as_str()), Some("8"));
    assert_eq!(chart.x_ticks.len(), 5);

    // Thousands of points are down-sampled.
    let many: Vec<(i64, f64)> = (0..5000).map(|i| (i * 1000, (i % 7) as f64)).collect();
    let chart = time_lines(head(), axis(), vec![series("a", many)]);
    assert!(
        chart.lines[0].count <= MAX_POINTS,
        "{}",
        chart.lines[0].count
    );

    let chart = time_lines(head(), axis(), vec![series("a", vec![])]);
    assert_eq!(chart.empty, Some("nothing"));
    assert!(chart.lines.is_empty());
}

#[test]
fn bar_charts_stand_bars_on_the_axis() {
    let values = |counts: &[u64]| -> Vec<BarValue> {
        (counts.iter().enumerate())
            .map(|(i, c)| BarValue {
                label: format!("b{i}"),
                count: *c,
                title: String::new(),
            })
            .collect()
    };
    let chart = bars(head(), "x".into(), "y".into(), values(&[4, 0, 2]));
    assert_eq!(chart.bars.len(), 3);
    let tallest = &chart.bars[0];
    assert_eq!(tallest.y, chart.top);
    assert_eq!(tallest.y + tallest.height, chart.bottom);
    assert_eq!(chart.bars[1].height, 0.0);
    assert_eq!(chart.bars[2].height * 2.0, tallest.height);
    assert!(chart.bars.windows(2).all(|w| w[0].x + w[0].width < w[1].x));
    assert_eq!(chart.x_ticks.len(), 3);

    // A lone bar keeps a bar's width, centred on its label.
    let lone = bars(head(), "x".into(), "y".into(), values(&[3]));
    assert_eq!(lone.bars[0].width, MAX_BAR_WIDTH);
    assert_eq!(lone.bars[0].x + MAX_BAR_WIDTH / 2.0, lone.x_ticks[0].pos);

    // Many bars: every few labelled.
    let chart = bars(head(), "x".into(), "y".into(), values(&[1; 168]));
    assert_eq!(chart.bars.len(), 168);
    assert!(
        chart.x_ticks.len() <= MAX_BAR_LABELS,
        "{}",
        chart.x_ticks.len()
    );

    for empty in [&[][..], &[0, 0][..]] {
        let chart = bars(head(), "x".into(), "y".into(), values(empty));
        assert_eq!(chart.empty, Some("nothing"));
        assert!(chart.bars.is_empty());
    }
}
