"""One command for the embedded shape: migrate, load demo data, start a real Celery worker and the web
server together, print the URL and the demo logins; Ctrl-C stops both."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_PASSWORD, seed_all


class Command(BaseCommand):
    help = "Run the portal on the embedded default: SQLite, local files, filesystem broker, one worker."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="address:port for the web server")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
        parser.add_argument("--no-seed", action="store_true", help="do not load demo data")

    def handle(self, *args, addr: str, concurrency: int, no_seed: bool, **options):
        base_dir = Path(settings.BASE_DIR)
        Path(settings.STORAGE_ROOT).mkdir(parents=True, exist_ok=True)
        for folder in ("data_folder_in", "control_folder"):
            path = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(folder)
            if path:
                Path(path).mkdir(parents=True, exist_ok=True)
        self.stdout.write("Migrating the database ...")
        call_command("migrate", interactive=False, verbosity=0)
        context = seed_all() if not no_seed else None

        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
        worker_cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--all-participants",
                      "-Q", "default,aggregation", f"--concurrency={concurrency}", "-l", "warning",
                      "-n", "embedded@%h"]
        web_cmd = [sys.executable, str(base_dir / "manage.py"), "runserver", "--noreload", addr]
        # Own process groups: Ctrl-C reaches us, and we stop both children in order.
        worker = subprocess.Popen(worker_cmd, cwd=base_dir, env=env, start_new_session=True)
        web = subprocess.Popen(web_cmd, cwd=base_dir, env=env, start_new_session=True)
        children = [web, worker]

        def stop_on_signal(signum, frame):
            raise KeyboardInterrupt

        # A terminal closing or a service manager stopping us must stop the children too.
        signal.signal(signal.SIGTERM, stop_on_signal)
        signal.signal(signal.SIGHUP, stop_on_signal)
        try:
            url = f"http://{addr}/"
            self._wait_until_up(url + "healthz", children)
            self._banner(url, context)
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            failed = [c.args[3] if len(c.args) > 3 else c.args for c in children if c.poll() is not None]
            raise CommandError(f"a process stopped unexpectedly: {failed}")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the web server and the worker ...")
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
            for child in children:
                if child.poll() is None:
                    # The worker's main process stops its pool itself (warm shutdown); signalling the whole
                    # group would kill tasks mid-way.
                    os.kill(child.pid, signal.SIGTERM)
            deadline = time.time() + 20
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
            self.stdout.write("Stopped.")

    def _wait_until_up(self, health_url: str, children) -> None:
        deadline = time.time() + 90
        while time.time() < deadline:
            if any(child.poll() is not None for child in children):
                raise CommandError("the web server or the worker failed to start; see the messages above")
            try:
                with urllib.request.urlopen(health_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.5)
        self.stderr.write("The health check is not green yet; the portal may still be starting.")

    def _banner(self, url: str, context) -> None:
        out = self.stdout
        out.write("")
        out.write(self.style.SUCCESS(f"PressTrust is running at {url}"))
        out.write(f"  API docs: {url}api/docs/   health check: {url}healthz")
        if context is not None:
            out.write(f"  Demo logins (password for all: {DEMO_PASSWORD}):")
            for username, user in context.users.items():
                line = f"    {username:<16} {user.get_role_display():<20} {user.organization.name}"
                if username in context.totp_secrets:
                    line += f"   TOTP key {context.totp_secrets[username]}"
                out.write(line)
            out.write("  Loan officers, auditors and the admin need an authenticator code: add the TOTP key to an")
            out.write("  authenticator app, or print the current code with: .venv/bin/python manage.py totp_code USER")
            for note in context.notes:
                out.write(f"  {note}")
        out.write("  Press Ctrl-C to stop the web server and the worker.")
