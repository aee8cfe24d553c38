"""Airflow 3 DAG files. Orchestration only: each DAG wires tasks that call the packages."""
