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


class PooledBoots(unittest.TestCase):
    def test_boots_that_disagree_widen_the_interval(self):
        base = {r: 100.0 + r for r in range(1, 6)}
        twice = {r: 2 * v for r, v in base.items()}
        eight = {r: 8 * v for r, v in base.items()}
        point, (lo, hi) = report.pooled_ratio([(twice, base), (eight, base)])
        self.assertAlmostEqual(point, 4.0)  # the geometric mean of 2 and 8
        self.assertAlmostEqual(lo, 2.0)
        self.assertAlmostEqual(hi, 8.0)

    def test_a_boot_with_too_few_rounds_voids_the_pool(self):
        base = {r: 1.0 for r in range(1, 6)}
        self.assertIsNone(report.pooled_ratio([(base, base), ({1: 1.0, 2: 1.0}, base)]))

    def test_only_boots_of_one_setup_are_pooled(self):
        def boot(vcpus, factor):
            lines = [f"BENCH-HOST vcpus={vcpus} topology=cpus={vcpus} clock=icount:0 idle=halt",
                     f"BENCH-META kernel=7.3 vcpus={vcpus} workload=layers"]
            for r in range(1, 5):
                lines.append(f"BENCH eevdf {r} lat_layers_avg_us {100 + r}")
                lines.append(f"BENCH sched {r} lat_layers_avg_us {factor * (100 + r)}")
            path = raw_log(lines)
            run = report.parse_raw(path)
            os.unlink(path)
            return {"vcpus": vcpus, "topology": run["host"]["topology"], "host": run["host"],
                    "meta": run["meta"], "raw": path, "schedulers": report.summarise(run)}

        pooled = report.pool([boot(4, 2), boot(2, 3), boot(4, 8)])
        self.assertEqual(len(pooled), 1)
        self.assertEqual(pooled[0]["vcpus"], 4)
        (sched,) = pooled[0]["schedulers"]
        self.assertAlmostEqual(sched["ratio"]["lat_layers_avg_us"], 4.0)
        self.assertIn("4.00 (2.00–8.00)", "\n".join(report.pooled_markdown(pooled)))

    def test_boots_of_one_round_say_why_there_is_no_pool(self):
        entry = {"vcpus": 1, "topology": "cpus=1", "clock": "host", "idle": "halt",
                 "kernel": "7.3", "workload": "standard", "raws": ["a", "b"],
                 "schedulers": [{"label": "s", "ratio": {}, "ratio_ci": {}}]}
        text = "\n".join(report.pooled_markdown([entry]))
        self.assertIn("No pooled ratios", text)
        self.assertNotIn("| scheduler", text)


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

    def test_the_layers_table_has_each_latency_in_its_own_column(self):
        lines = ["BENCH-META kernel=7.3 vcpus=4 workload=layers"]
        for r in range(1, 5):
            lines.append(f"BENCH eevdf {r} lat_layers_avg_us 400")
            lines.append(f"BENCH eevdf {r} lat_layers_run_avg_us 100")
            lines.append(f"BENCH sched {r} lat_layers_avg_us 600")
            lines.append(f"BENCH sched {r} lat_layers_run_avg_us 10")
        path = raw_log(lines)
        run = report.parse_raw(path)
        os.unlink(path)
        base, mine = report.summarise(run)
        row = next(line for line in report.layers_table(run | {"schedulers": [base, mine]}, base)
                   if line.startswith("| `sched`"))
        # cyclictest avg, p99 (not measured), wake-up to run avg, p99, to user avg, p99, rounds
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        self.assertEqual(cells, ["1.50 (1.50–1.50)", "n/a", "0.10 (0.10–0.10)", "n/a", "n/a",
                                 "n/a", "4/4"])


if __name__ == "__main__":
    unittest.main()
