"""One module per ``ece-uploader`` command that talks to AWS and ECE, on one set of conventions.

Every command here takes ``--json`` (one JSON document on stdout instead of a
table), ``--env-vars FILE`` (SAM's env-vars format or the sandbox's description,
as ``invoke`` does), ``--profile`` and ``--region``; AWS credentials come from
the standard chain unless the env-vars file names them, and ``AWS_ENDPOINT_URL``
is honoured. Exit status: 0 all good, 1 a negative answer, 2 usage or I/O error.
"""
