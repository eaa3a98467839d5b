"""Run and sweep reports, opened in a real headless Chromium.

Chromium is driven over the DevTools protocol (the `websockets` package,
in the `test` extra); `.ci/run` installs Debian's chromium where it is
missing. Each page must load with no console error and no request beyond
the file itself and its data URIs, every image must decode, the video
must have a duration, and a screenshot must show more than a blank page.
"""

import base64
import contextlib
import csv
import io
import itertools
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time
import urllib.request

os.environ.setdefault('MPLBACKEND', 'Agg')

# pylint: disable=wrong-import-position
import numpy as np
import pytest
import conftest
from conftest import needs

import gridlab
from gridlab import cli
from gridlab.viz import report
from gridlab.viz import video

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'


class Browser:
    """A headless Chromium and one page, spoken to over DevTools."""

    def __init__(self, profile: pathlib.Path):
        from websockets.sync.client import connect
        self._process = subprocess.Popen(
            [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
             '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--no-first-run', '--no-default-browser-check',
             '--mute-audio', '--autoplay-policy=no-user-gesture-required',
             '--remote-debugging-address=127.0.0.1',
             '--remote-debugging-port=0', f'--user-data-dir={profile}',
             '--window-size=1200,900', 'about:blank'],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        port = self._devtools_port(profile)
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list',
                                        timeout=10) as answer:
                pages = [t for t in json.load(answer) if t['type'] == 'page']
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self._stack = contextlib.ExitStack()
        self._socket = self._stack.enter_context(connect(
            pages[0]['webSocketDebuggerUrl'], max_size=None, open_timeout=30))
        self._ids = itertools.count(1)
        self.events = []
        for domain in ('Page', 'Runtime', 'Log', 'Network'):
            self.call(f'{domain}.enable')

    def _devtools_port(self, profile: pathlib.Path) -> int:
        # Chromium writes the port it chose to DevToolsActivePort.
        path = profile / 'DevToolsActivePort'
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if path.is_file() and path.read_text().strip():
                return int(path.read_text().split()[0])
            if self._process.poll() is not None:
                raise RuntimeError('chromium exited: ' +
                                   self._process.stderr.read().decode()[-2000:])
            time.sleep(0.1)
        raise RuntimeError('chromium did not open its DevTools port in 60 s')

    def call(self, method: str, timeout: float = 60., **params):
        """Sends one command; returns its result, keeping events that arrive."""
        ident = next(self._ids)
        self._socket.send(json.dumps({'id': ident, 'method': method,
                                      'params': params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._socket.recv(
                timeout=max(0.1, deadline - time.monotonic())))
            if message.get('id') == ident:
                if 'error' in message:
                    raise RuntimeError(f'{method}: {message["error"]}')
                return message['result']
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60.):
        deadline = time.monotonic() + timeout
        while not any(event.get('method') == method for event in self.events):
            self.events.append(json.loads(self._socket.recv(
                timeout=max(0.1, deadline - time.monotonic()))))

    def evaluate(self, expression: str):
        result = self.call('Runtime.evaluate', expression=expression,
                           awaitPromise=True, returnByValue=True)
        if 'exceptionDetails' in result:
            raise RuntimeError(f'page script failed: {result["exceptionDetails"]}')
        return result['result']['value']

    def errors(self) -> list:
        """Console errors, uncaught exceptions and error log entries."""
        found = []
        for event in self.events:
            method, params = event.get('method'), event.get('params', {})
            if method == 'Runtime.exceptionThrown':
                found.append(params['exceptionDetails'])
            elif method == 'Runtime.consoleAPICalled' and params['type'] in (
                    'error', 'assert'):
                found.append(params['args'])
            elif method == 'Log.entryAdded' and params['entry']['level'] == 'error':
                found.append(params['entry'])
        return found

    def requested_urls(self) -> list:
        return [event['params']['request']['url'] for event in self.events
                if event.get('method') == 'Network.requestWillBeSent']

    def close(self):
        try:
            self._stack.close()
        finally:
            # Chromium's helpers share its session: end the whole group.
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process.stderr.close()


@pytest.fixture
def browser(tmp_path):
    needs('websockets')
    if not os.path.exists(CHROMIUM):
        if not conftest.FULL:
            pytest.skip(f'needs chromium at {CHROMIUM} (apt-get install -y chromium)')
        pytest.fail(f'no chromium at {CHROMIUM}: install it with `apt-get '
                    'install -y chromium` (.ci/run does)')
    session = Browser(tmp_path / 'chromium-profile')
    yield session
    session.close()


# What the page reports about itself once its video knows its duration.
PAGE_FACTS = """
(async () => {
  const videos = [...document.querySelectorAll('video')];
  await Promise.all(videos.map(v => v.readyState >= 1 ? null : new Promise(
      (resolve) => { v.addEventListener('loadedmetadata', resolve);
                     v.addEventListener('error', resolve);
                     setTimeout(resolve, 20000); })));
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  return {
    title: document.title,
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
    images: [...document.images].map(img => [img.alt, img.naturalWidth]),
    videos: videos.map(v => ({duration: v.duration, error: v.error && v.error.code,
                              width: v.videoWidth})),
    links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
    cells: [...document.querySelectorAll('td')].map(td => td.textContent),
  };
})()
"""


def open_page(browser, path: pathlib.Path) -> dict:
    browser.events.clear()  # Errors and requests of this page only.
    browser.call('Page.navigate', url=path.resolve().as_uri())
    browser.wait_for('Page.loadEventFired')
    return browser.evaluate(PAGE_FACTS)


def screenshot(browser) -> np.ndarray:
    from PIL import Image
    data = browser.call('Page.captureScreenshot', format='png')['data']
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return np.asarray(image.convert('RGB'))


def assert_offline(browser, page: pathlib.Path):
    """Nothing but the page itself and data: URIs was requested."""
    for url in browser.requested_urls():
        assert url.startswith('data:') or url == page.resolve().as_uri(), url


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('report') / 'run'
    gridlab.run_experiment('random', 'simple', out, seed=0, episodes=2,
                           verbose=False, progress=False)
    return out


def test_run_report_in_a_real_browser(run_dir, browser):
    page = report.write_run_report(run_dir)
    assert page == run_dir / 'report.html'
    facts = open_page(browser, page)
    assert browser.errors() == []
    assert_offline(browser, page)
    assert facts['title'] == 'random on simple, seed 0'
    assert facts['headings'] == ['Results', 'Configuration', 'Hyperparameters',
                                 'Figures', 'Videos']
    # Every picture of the run folder is on the page and decodes.
    expected = [caption for name, caption in report.RUN_PICTURES
                if (run_dir / name).is_file()]
    assert 'Learning curve' in expected and 'Greedy policy' in expected
    assert [alt for alt, _ in facts['images']] == expected
    assert all(width > 100 for _, width in facts['images'])
    # The evaluation video plays: Chromium read its duration and size.
    (clip,) = facts['videos']
    assert clip['error'] is None
    info = video.probe_video(run_dir / 'evaluation.mp4')
    assert clip['duration'] == pytest.approx(info['seconds'], abs=0.2)
    assert clip['duration'] > 0 and clip['width'] == info['width']
    # The summary's numbers are in the tables.
    summary = json.loads((run_dir / 'summary.json').read_text())
    assert str(summary['training']['episodes']) in facts['cells']
    assert f'{summary["evaluation"]["mean_return"]:.4g}' in facts['cells']
    assert 'simple' in facts['cells'] and 'random' in facts['cells']

    pixels = screenshot(browser)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 800
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, tables and pictures, not a blank page
    assert (pixels.mean(axis=-1) < 128).mean() > 0.005  # some dark ink


def test_run_report_embeds_the_periodic_videos(run_dir, tmp_path):
    run = tmp_path / 'run'
    shutil.copytree(run_dir, run)
    frames, rewards = [np.zeros((8, 8, 3), np.uint8)] * 3, [0., 1.]
    clip = video.annotate_episodes([(frames, rewards)])
    (run / 'videos').mkdir()
    video.save_video(clip, run / 'videos' / 'step_000100.mp4', frame_rate=8)
    text = report.write_run_report(run).read_text()
    assert text.count('<video') == 2 and 'step_000100' in text
    assert 'http://' not in text and 'https://' not in text


def write_sweep(sweep: pathlib.Path, run_dir: pathlib.Path):
    shutil.copytree(run_dir, sweep / 'simple-random-seed0')
    (sweep / 'simple-random-seed0' / 'report.html').unlink(missing_ok=True)
    with (sweep / 'aggregate.csv').open('w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(report.AGGREGATE_COLUMNS)
        writer.writerow(['random', 'simple', 'mean_return', -12.5, -20.25, -4.75])
    with (sweep / 'results.csv').open('w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['agent', 'task', 'seed', 'mean_return'])
        writer.writerow(['random', 'simple', 0, -12.5])
    shutil.copy(run_dir / 'learning_curve.png', sweep / 'comparison.png')


def test_sweep_report_in_a_real_browser(run_dir, tmp_path, browser):
    sweep = tmp_path / 'sweep'
    sweep.mkdir()
    write_sweep(sweep, run_dir)
    page = report.write_sweep_report(sweep)
    facts = open_page(browser, page)
    assert browser.errors() == []
    assert_offline(browser, page)
    assert facts['headings'] == ['Aggregate', 'Runs', 'Comparisons', 'Run reports']
    assert '[-20.25, -4.75]' in facts['cells'] and '-12.5' in facts['cells']
    assert [alt for alt, _ in facts['images']] == ['comparison']
    assert facts['images'][0][1] > 100
    assert facts['links'] == ['simple-random-seed0/report.html']
    # The run's report was written, so the link leads to a page.
    linked = sweep / 'simple-random-seed0' / 'report.html'
    assert linked.is_file()
    facts = open_page(browser, linked)
    assert facts['title'] == 'random on simple, seed 0'
    assert browser.errors() == []


def test_sweep_without_aggregate_says_so(tmp_path):
    (tmp_path / 'results.csv').write_text('agent,seed\nq,0\n')
    text = report.write_report(tmp_path).read_text()
    assert 'No aggregate.csv in this folder yet' in text
    assert '<td>q</td>' in text
    (tmp_path / 'aggregate.csv').write_text('agent,estimate\nq,1\n')
    with pytest.raises(report.ReportError, match=r"lacks the columns \['task'"):
        report.write_sweep_report(tmp_path)


def test_report_errors_name_the_folder(tmp_path):
    with pytest.raises(report.ReportError, match='neither a run'):
        report.write_report(tmp_path)
    with pytest.raises(report.ReportError, match='no summary.json'):
        report.write_run_report(tmp_path)
    (tmp_path / 'summary.json').write_text('[1, 2]')
    with pytest.raises(report.ReportError, match='no "config"'):
        report.write_run_report(tmp_path)


def test_gridlab_report_command(run_dir, tmp_path, capsys):
    run = tmp_path / 'run'
    shutil.copytree(run_dir, run)
    (run / 'report.html').unlink(missing_ok=True)
    assert cli.main(['report', str(run)]) == 0
    assert (run / 'report.html').is_file()
    assert re.search(r'report\.html', capsys.readouterr().out)
    assert cli.main(['report', str(tmp_path / 'nowhere')]) == 2
    assert 'is not a folder' in capsys.readouterr().err


@pytest.fixture(scope='module')
def real_sweep(tmp_path_factory):
    """A sweep as `gridlab sweep` lays it out: TASK/AGENT/SETTING/seedS, with
    the long agent names (agent[setting] on task) of the README's example."""
    from gridlab.experiments import sweep
    root = tmp_path_factory.mktemp('sweep') / 'tabular'
    outcome = sweep.run_sweep(['q-learning', 'sarsa'], ['simple', 'obstacle'], '0-2', root,
                              grid={'step_size': [0.1, 0.5]}, steps=2000, eval_every=500,
                              workers=2, progress=False)
    assert not outcome.failed and len(outcome.rows) == 24
    return root


def test_sweep_report_links_every_run_at_any_depth(real_sweep, tmp_path):
    page = report.write_sweep_report(real_sweep)
    hrefs = re.findall(r'<a href="([^"]+)"', page.read_text())
    with (real_sweep / 'results.csv').open(newline='') as handle:
        runs = [pathlib.Path(row['directory']) for row in csv.DictReader(handle)]
    assert len(runs) == 24 and len(runs[0].relative_to(real_sweep).parts) == 4
    assert sorted(hrefs) == sorted((run.relative_to(real_sweep) / 'report.html').as_posix()
                                   for run in runs)
    assert all((real_sweep / href).is_file() for href in hrefs)
    # A run folder is a leaf: what lies inside it (videos/, a copied run) is
    # part of that run, not another one of the sweep.
    nested = tmp_path / 'sweep'
    shutil.copytree(runs[0], nested / 'simple' / 'a' / 'b' / 'seed0')
    shutil.copytree(runs[1], nested / 'simple' / 'a' / 'b' / 'seed0' / 'videos' / 'copy')
    text = report.write_sweep_report(nested).read_text()
    assert re.findall(r'<a href="([^"]+)"', text) == ['simple/a/b/seed0/report.html']


# The page's width, and each image's natural and displayed size, as laid out.
LAYOUT_FACTS = """
(async () => {
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  const tables = [...document.querySelectorAll('table')].map(table => {
    let box = table.parentElement;
    const style = getComputedStyle(box);
    return {width: table.getBoundingClientRect().width,
            boxWidth: box.clientWidth, boxScrolls: ['auto', 'scroll'].includes(style.overflowX),
            boxRight: box.getBoundingClientRect().right};
  });
  return {
    viewport: window.innerWidth,
    scrollWidth: document.scrollingElement.scrollWidth,
    images: [...document.images].map(img => {
      const rect = img.getBoundingClientRect();
      return {alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth,
              width: rect.width, right: rect.right};
    }),
    tables: tables,
    numbers: [...document.querySelectorAll('td.number')].map(td => td.textContent),
  };
})()
"""


def test_sweep_report_reads_at_1280_pixels(real_sweep, browser):
    browser.call('Emulation.setDeviceMetricsOverride', width=1280, height=900,
                 deviceScaleFactor=1, mobile=False)
    page = report.write_sweep_report(real_sweep)
    open_page(browser, page)
    assert browser.errors() == []
    facts = browser.evaluate(LAYOUT_FACTS)
    assert facts['viewport'] == 1280
    # Nothing makes the page scroll sideways: a wide table scrolls in its own box.
    assert facts['scrollWidth'] <= 1280, facts['scrollWidth']
    for table in facts['tables']:
        assert table['boxRight'] <= 1280
        assert table['width'] <= table['boxWidth'] + 1 or table['boxScrolls'], table
    # Every picture decodes and is shown at (nearly) its own size, so that its
    # text stays as large as it was drawn, and inside the window.
    assert sorted(image['alt'] for image in facts['images']) == [
        'curves', 'intervals', 'profiles']
    for image in facts['images']:
        assert image['complete'] and image['naturalWidth'] > 300, image
        assert image['width'] >= 0.9 * image['naturalWidth'], image
        assert image['right'] <= 1280, image
    # Numbers are rounded for reading (results.csv keeps them whole).
    assert facts['numbers'] and all(
        len(re.sub(r'[^0-9]', '', text.split('e')[0]).lstrip('0')) <= 6
        for text in facts['numbers']), facts['numbers']
