"""Finding the decision inside pipelines and uncertainty wrappers."""

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.model_selection import ThresholdTunedClassifier
from dermfeat.uncertainty import ConformalClassifier, GuardedClassifier, decision_step


def test_decision_step_unwraps_pipelines_and_wrappers():
    tuned = ThresholdTunedClassifier(LogisticRegression())
    model = make_pipeline(StandardScaler(), GuardedClassifier(make_pipeline(StandardScaler(), ConformalClassifier(tuned))))
    assert decision_step(model) is tuned
    lr = LogisticRegression()
    assert decision_step(lr) is lr
