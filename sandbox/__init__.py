"""Simulated peers for demo, tests and benchmarks: the provincial SOAP platform, county window
REST feeds and department REST systems, with fault injection. Imports contracts only: a peer
must never share our client code.
"""
