from linkseval.expected import compare, summarise


def _head(est=1.0, p=0.5):
    return {
        "data_label": "SYNTHETIC DATA",
        "headline": [
            {
                "instrument": "safequest",
                "outcome": "workload",
                "method": "CR1",
                "estimate": est,
                "std_error": 0.5,
                "ci_low": est - 1,
                "ci_high": est + 1,
                "p_value": p,
            }
        ],
    }


def test_identical_runs_have_no_differences():
    assert compare(summarise(_head()), summarise(_head())) == []


def test_a_moved_estimate_is_reported_readably():
    diffs = compare(summarise(_head(est=1.1)), summarise(_head()))
    assert any("safequest/workload/CR1: estimate 1 -> 1.1" in d for d in diffs)
    assert len(diffs) == 3  # estimate, ci_low, ci_high


def test_p_value_tolerance_absorbs_a_few_draws():
    assert compare(summarise(_head(p=0.5015)), summarise(_head(p=0.5))) == []
    assert compare(summarise(_head(p=0.51)), summarise(_head(p=0.5))) != []


def test_missing_and_new_rows():
    a = summarise(_head())
    e = {"data_label": "", "rows": {"care/care_total/CR1": a["rows"]["safequest/workload/CR1"]}}
    diffs = compare(a, e)
    assert "missing in this run: care/care_total/CR1" in diffs
    assert "new in this run (not expected): safequest/workload/CR1" in diffs
