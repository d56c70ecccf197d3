#!/usr/bin/env python3
"""Unit tests of report.py's arithmetic (meson test bench-report): ratios to EEVDF, their
bootstrap intervals, and which rounds pair up. The benchmark itself needs a VM and is run by
hand; these run anywhere."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def raw_log(lines):
    f = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    f.write("\n".join(lines + ["BENCH-END"]) + "\n")
    f.close()
    return f.name


class RatioInterval(unittest.TestCase):
    def test_a_constant_ratio_has_no_width(self):
        base = {r: 100.0 + 10 * r for r in range(1, 8)}
        mine = {r: 2 * v for r, v in base.items()}
        lo, hi = report.ratio_ci(mine, base)
        self.assertAlmostEqual(lo, 2.0)
        self.assertAlmostEqual(hi, 2.0)

    def test_noisy_rounds_give_an_interval_around_the_ratio(self):
        base = {1: 100.0, 2: 300.0, 3: 120.0, 4: 280.0, 5: 150.0, 6: 90.0}
        mine = {1: 110.0, 2: 140.0, 3: 260.0, 4: 100.0, 5: 310.0, 6: 200.0}
        point = report.statistics.median(mine.values()) / report.statistics.median(base.values())
        lo, hi = report.ratio_ci(mine, base)
        self.assertLess(lo, point)
        self.assertGreater(hi, point)
        self.assertLess(lo, 1.0)  # these rounds cannot tell the two apart

    def test_only_rounds_both_measured_count(self):
        base = {1: 100.0, 2: 100.0, 3: 100.0, 9: 1.0}
        mine = {1: 300.0, 2: 300.0, 3: 300.0, 7: 1e6}
        self.assertEqual(report.ratio_ci(mine, base), (3.0, 3.0))

    def test_too_few_rounds_or_a_zero_base_give_none(self):
        self.assertIsNone(report.ratio_ci({1: 1.0, 2: 2.0}, {1: 1.0, 2: 2.0}))
        self.assertIsNone(report.ratio_ci({1: 1.0, 2: 1.0, 3: 1.0}, {1: 0.0, 2: 0.0, 3: 0.0}))

    def test_the_same_files_give_the_same_interval(self):
        base = {r: float(r * r % 7 + 1) for r in range(1, 10)}
        mine = {r: float(r * 3 % 5 + 1) for r in range(1, 10)}
        self.assertEqual(report.ratio_ci(mine, base), report.ratio_ci(mine, base))


class Summary(unittest.TestCase):
    def test_a_dropped_round_leaves_the_interval(self):
        lines = ["BENCH-META kernel=7.3 vcpus=4 workload=layers"]
        for r in range(1, 6):
            lines.append(f"BENCH eevdf {r} lat_layers_avg_us {100 * r}")
            lines.append(f"BENCH sched {r} lat_layers_avg_us {50 * r}")
        lines.append("BENCH-INVALID sched 5 went away")
        path = raw_log(lines)
        run = report.parse_raw(path)
        os.unlink(path)
        base, mine = report.summarise(run)
        self.assertEqual(mine["valid_rounds"], 4)
        self.assertEqual(mine["dropped_rounds"], [5])
        # The point ratio takes all of EEVDF's rounds; the interval only the 4 that pair up.
        self.assertAlmostEqual(mine["ratio"]["lat_layers_avg_us"], 125 / 300)
        self.assertEqual(mine["ratio_ci"]["lat_layers_avg_us"], [0.5, 0.5])
        self.assertEqual(base["ratio_ci"], {})
        table = "\n".join(report.layers_table(run | {"schedulers": [base, mine]}, base))
        self.assertIn("0.42 (0.50–0.50)", table)


if __name__ == "__main__":
    unittest.main()
