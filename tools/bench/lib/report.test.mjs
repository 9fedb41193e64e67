// The target lines: the ratio of medians judged, and the spread of the run-by-run ratios beside it.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { judgeTargets, runRatioSpread, targetLines } from './report.mjs';

const runs = (...values) => values.map((value) => ({ value }));

it('run-by-run ratios pair run i with run i; fewer than two runs give no spread', () => {
  assert.deepEqual(runRatioSpread(runs(600, 500, 700), runs(700, 500, 560)), [0.857, 1.25]);
  assert.equal(runRatioSpread(runs(600), runs(700)), undefined);
  assert.equal(runRatioSpread(undefined, runs(1, 2)), undefined);
  // A run of the reference without a value (0) is skipped, not divided by.
  assert.deepEqual(runRatioSpread(runs(1, 2, 3), runs(0, 2, 2)), [1, 1.5]);
});

it('a throughput target prints its median ratio, verdict and the spread of its runs', () => {
  const runsBy = { download: { ftpfwd: runs(600, 500, 700), 'ssh-L': runs(700, 500, 560) } };
  const med = { download: { ftpfwd: { value: 600 }, 'ssh-L': { value: 560 } } };
  const [download] = judgeTargets(med, runsBy);
  assert.deepEqual(download, {
    target: 'download ftpfwd / ssh -L',
    value: 1.071,
    limit: '>= 1.0',
    met: true,
    runs: [0.857, 1.25],
  });
  assert.match(
    targetLines([download]).join('\n'),
    /MET {3}download ftpfwd \/ ssh -L +1\.071 {2}\(>= 1\.0\) {2}run by run 0\.857-1\.25/,
  );
});
