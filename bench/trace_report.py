#!/usr/bin/env python3
"""Report on a bench/trace.sh run: where cyclictest's (or the frame task's) latency went.

    bench/trace_report.py RAW_OUTPUT

cyclictest's own figure (from its histogram) is the time from the programmed expiry of its
timer to the moment its thread runs. The trace splits it in two:

- timer lateness: hrtimer_expire_entry's `now` minus the timer's `softexpires` (when the
  interrupt came, against when it was due): the emulator's and the interrupt path's share;
- wake-up to run: sched_waking of the measuring thread to the sched_switch onto it: the
  scheduler's share. For waits over 1 ms it lists what ran on that CPU meanwhile.

A third part follows them: run to user space, the sched_switch onto the thread to its return
from clock_nanosleep (raw_syscalls/sys_exit, which trace-guest.sh records for that call only).
It is the kernel's path back to the thread, in which a vCPU may also lose its turn.

Tick lateness (every CPU's scheduler tick, the same measure) shows the emulator's turn-taking
apart from the measured thread: in single-threaded TCG a vCPU's pending interrupt waits until
the emulator runs that vCPU, and a busy vCPU keeps its turn until the next timer interrupt of
any vCPU (the ticks are aligned, 4 ms apart), so lateness comes in steps of about 4 ms.

For the frames load it also splits each frame, from its wake-up to its sleep, into the time
it waited runnable (the scheduler's share) and the time it ran (wall time: under the emulator
a running vCPU may not be executing).

It also counts IPIs by call site (a scheduler that preempts remote CPUs sends one per wake-up;
under the single-threaded emulator each also waits for the target vCPU's turn).
"""
import collections
import re
import sys

LINE = re.compile(r'^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$')


def pct(values, q):
    return values[min(len(values) - 1, int(len(values) * q))] if values else 0


def summary(name, values):
    if not values:
        return f'{name}: none'
    values = sorted(values)
    avg = sum(values) / len(values)
    return (f'{name}: n={len(values)} avg {avg:.0f} p50 {pct(values, .5):.0f} '
            f'p90 {pct(values, .9):.0f} p99 {pct(values, .99):.0f} max {values[-1]:.0f} us')


def main(path):
    text = open(path, errors='replace').read()
    if 'TRACE-BEGIN' not in text:
        sys.exit(f'{path}: no TRACE-BEGIN line: the guest did not get to the trace')
    for line in text.splitlines():
        if line.startswith('TRACE-META'):
            print(line[len('TRACE-META '):])
    events = []
    for line in text.split('TRACE-BEGIN', 1)[1].split('TRACE-END', 1)[0].splitlines():
        m = LINE.match(line)
        if m:
            comm, pid, cpu, ts, event, args = m.groups()
            events.append((comm, pid, int(cpu), float(ts), event, args))

    # The measuring thread: the frame task (TRACE_LOAD=frames names it), else the cyclictest
    # thread that arms the most absolute sleep timers (clock_nanosleep with TIMER_ABSTIME).
    # cyclictest's main thread sleeps too, in relative steps; counting every sleep timer picked
    # it whenever a scheduler delayed the measuring thread by more than a period or two.
    frame_task = re.search(r'^TRACE-META framepid=(\d+)', text, re.M)
    if frame_task:
        thread = frame_task.group(1)
    else:
        armers = collections.Counter(
            (pid, 'mode=ABS' in args) for comm, pid, _, _, ev, args in events
            if ev == 'hrtimer_start' and comm in ('cyclictest', 'latcyclic')
            and 'function=hrtimer_wakeup' in args)
        if not armers:
            sys.exit(f'{path}: no cyclictest timers in the trace')
        thread = max(armers, key=lambda k: (k[1], armers[k]))[0]

    armed, late, waits, to_user = {}, [], [], []
    switched_in = None  # when the thread was switched in after its last wake-up
    ticks_armed, tick_late = {}, []
    ipis = collections.Counter()
    ran_meanwhile = collections.Counter()
    pending = None  # (time of the wake-up, cpu it targets, comms that ran there since)
    for comm, pid, cpu, ts, ev, args in events:
        if ev == 'hrtimer_start' and pid == thread and 'function=hrtimer_wakeup' in args:
            timer = re.search(r'hrtimer=(\S+)', args).group(1)
            armed[timer] = int(re.search(r'softexpires=(\d+)', args).group(1))
        elif ev == 'hrtimer_start' and 'function=tick_nohz_handler' in args:
            timer = re.search(r'hrtimer=(\S+)', args).group(1)
            ticks_armed[timer] = int(re.search(r'softexpires=(\d+)', args).group(1))
        elif ev == 'hrtimer_expire_entry':
            timer = re.search(r'hrtimer=(\S+)', args).group(1)
            now = int(re.search(r'now=(\d+)', args).group(1))
            if timer in ticks_armed:
                tick_late.append((now - ticks_armed.pop(timer)) / 1000)
            if timer in armed:
                late.append((now - armed.pop(timer)) / 1000)
        elif ev in ('ipi_send_cpu', 'ipi_send_cpumask'):
            site = re.search(r'callsite=([^+\s]+)', args)
            ipis[site.group(1) if site else '?'] += 1
        elif ev == 'sys_exit' and pid == thread and switched_in is not None:
            to_user.append((ts - switched_in) * 1e6)
            switched_in = None
        elif ev == 'sched_waking' and re.search(rf'\bpid={thread}\b', args):
            if pending is None:
                target = int(re.search(r'target_cpu=(\d+)', args).group(1))
                pending = (ts, target, collections.Counter())
        elif ev == 'sched_switch' and pending is not None:
            m = re.search(r'prev_comm=(.+?) prev_pid=\d+ .*next_pid=(\d+)', args)
            if not m:
                continue
            if m.group(2) == thread:
                wait = (ts - pending[0]) * 1e6
                waits.append(wait)
                switched_in = ts
                if wait > 1000:
                    # (what it switched from ran too: often the only one)
                    pending[2][m.group(1)] += 1
                    ran_meanwhile.update(pending[2].keys())
                pending = None
            elif cpu == pending[1]:
                pending[2][m.group(1)] += 1

    print(f'measuring thread {thread}')
    print(summary('timer lateness', late))
    print(summary('wake-up to run', waits))
    print(summary('run to user space', to_user))
    print(summary('tick lateness (all CPUs)', tick_late))
    long_waits = sum(1 for w in waits if w > 1000)
    print(f'waits over 1 ms: {long_waits}; tasks that ran on the CPU during them (waits):',
          ', '.join(f'{c} {n}' for c, n in ran_meanwhile.most_common(8)) or 'none')
    print(f'IPIs: {sum(ipis.values())};',
          ', '.join(f'{s} {n}' for s, n in ipis.most_common(5)) or 'none')
    if frame_task:
        frames_report(events, thread)


def frames_report(events, thread):
    """Per frame (wake-up to sleep): the time it waited runnable and the time it ran."""
    frames, cur, since = [], None, 0.0
    for _, _, _, ts, ev, args in events:
        if ev == 'sched_waking' and re.search(rf'\bpid={thread}\b', args):
            cur, since = {'start': ts, 'wait': 0.0, 'run': 0.0}, ts
        elif ev == 'sched_switch' and cur is not None:
            m = re.search(r'prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) .*next_pid=(\d+)', args)
            if not m:
                continue
            if m.group(3) == thread:
                cur['wait'] += ts - since
                since = ts
            elif m.group(1) == thread:
                cur['run'] += ts - since
                since = ts
                if not m.group(2).startswith('R'):
                    cur['end'] = ts
                    frames.append(cur)
                    cur = None
    long = [f for f in frames if f['end'] - f['start'] > 0.016667]
    print(f'frames traced: {len(frames)}; longer than the 16.7 ms period: {len(long)}')
    print(summary('frame waiting (runnable, not running)', [f['wait'] * 1e6 for f in frames]))
    print(summary('frame running (wall time on the CPU)', [f['run'] * 1e6 for f in frames]))
    if long:
        print('the long ones, wait/run ms:',
              ' '.join(f"{f['wait'] * 1e3:.1f}/{f['run'] * 1e3:.1f}" for f in long[:12]))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
