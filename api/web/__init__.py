"""The planners' web pages (Swedish, server-rendered HTML): sign-in, Översikt, Kandidater, Enhet,
Vårdgivare, Planera and Modell. Wired into the application by :func:`api.web.install.install_web`;
described in docs/web.md."""
