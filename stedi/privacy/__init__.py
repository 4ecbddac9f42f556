"""The privacy lifecycle: keyed hashes of subjects, erasure matching, tombstones and the privacy report.

The decisions are pure functions over Arrow tables; reading and writing Delta tables happens in
`tasks/erasure.py` and `tasks/privacy.py`.
"""
