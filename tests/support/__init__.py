"""What the test suites share, kept out of the product's packages:

- helpers.py: threads released together behind a barrier (the PostgreSQL tier's
  concurrency tests), free ports, a private redis-server, real Celery workers and
  their queues, process groups stopped on the way out;
- s3server.py: moto's S3 server on a free port of 127.0.0.1 (documents on S3);
- traffic.py: gunicorn servers with production settings and "shoppers" browsing,
  checking out and confirming over HTTP while the fault tests break things.
"""
