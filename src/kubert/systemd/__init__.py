"""Living under systemd: inherited sockets, readiness notification, journal-friendly logs, units.

Each module does one job and speaks the plain protocol systemd documents, without libsystemd:

* :mod:`kubert.systemd.listen`: the sockets a ``.socket`` unit passes (``LISTEN_FDS``);
* :mod:`kubert.systemd.notify`: ``READY=1``, ``STATUS=``, ``STOPPING=1`` and the watchdog
  through ``NOTIFY_SOCKET``;
* :mod:`kubert.systemd.journal`: log lines with ``<N>`` priority prefixes when stderr is the
  journal (``JOURNAL_STREAM``);
* :mod:`kubert.systemd.units`: the shipped ``kubert.service`` and ``kubert.socket``.
"""
